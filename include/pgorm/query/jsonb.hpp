// JSONB operators on pgorm::Json expressions: -> and ->> (a key or an array index), #>> (a path),
// @> and <@ (containment), ? ?| ?& (keys), and jsonb_path_exists. Keys, paths and documents are
// bind parameters.
//   select<Event>().where(jsonb_get_text(col<&Event::data>, "kind") == "login")
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/query/call.hpp"
#include "pgorm/types/json.hpp"

namespace pgorm {
namespace query {

template <class E>
constexpr void check_jsonb() {
  static_assert(expression<E> && std::is_same_v<value_of_t<E>, Json>,
                "pgorm: the JSONB operators apply to pgorm::Json (jsonb) expressions only");
}

// A key (text) or an array index (int) after -> or ->>.
template <class K>
void add_json_key(Fragment& f, const K& key, std::string_view context) {
  if constexpr (std::is_integral_v<K>) {
    static_assert(!std::is_same_v<K, bool> && sizeof(K) <= sizeof(std::int32_t),
                  "pgorm: a JSON array index is an int");
    add_typed_value<std::int32_t>(f, static_cast<std::int32_t>(key), context);
  } else {
    static_assert(std::is_convertible_v<const K&, std::string_view>,
                  "pgorm: a JSON key is text (or an int index into an array)");
    add_typed_value<std::string>(f, std::string_view(key), context);
  }
}

// "(e op arg)" where arg is an expression of type V or a value bound as V.
template <class V, class R, class E, class A>
Term<R, concat_t<models_of_t<E>, arguments_models_t<A>>, result_t<R, may_be_null<E>()>>
binary_operator(const E& e, std::string_view op, const A& arg) {
  Term<R, concat_t<models_of_t<E>, arguments_models_t<A>>, result_t<R, may_be_null<E>()>> out;
  out.fragment += "(";
  out.fragment += e.to_expr().fragment;
  out.fragment += op;
  add_argument<V>(out.fragment, arg, op);
  out.fragment += ")";
  return out;
}

}  // namespace query

// e -> key: the member (or array element) as jsonb; NULL when there is none.
template <class E, class K>
auto jsonb_get(const E& e, const K& key) {
  query::check_jsonb<E>();
  query::Term<Json, query::models_of_t<E>, std::optional<Json>> out;
  out.fragment += "(";
  out.fragment += e.to_expr().fragment;
  out.fragment += " -> ";
  query::add_json_key(out.fragment, key, "->");
  out.fragment += ")";
  return out;
}
// e ->> key: the member as text (a JSON string unquoted); NULL when there is none.
template <class E, class K>
auto jsonb_get_text(const E& e, const K& key) {
  query::check_jsonb<E>();
  query::Term<std::string, query::models_of_t<E>, std::optional<std::string>> out;
  out.fragment += "(";
  out.fragment += e.to_expr().fragment;
  out.fragment += " ->> ";
  query::add_json_key(out.fragment, key, "->>");
  out.fragment += ")";
  return out;
}
// e #>> path: the value at a path of keys (array indexes as digits) as text.
//   jsonb_path_text(col<&Event::data>, {"user", "name"})
template <class E>
auto jsonb_path_text(const E& e, const std::vector<std::string>& path) {
  query::check_jsonb<E>();
  query::Term<std::string, query::models_of_t<E>, std::optional<std::string>> out;
  out.fragment += "(";
  out.fragment += e.to_expr().fragment;
  out.fragment += " #>> ";
  query::add_typed_value<std::vector<std::string>>(out.fragment, path, "#>>");
  out.fragment += ")";
  return out;
}
// e @> doc: e contains the document (a pgorm::Json value or a jsonb expression).
template <class E, class D>
auto jsonb_contains(const E& e, const D& doc) {
  query::check_jsonb<E>();
  static_assert(query::argument_matches<Json, D>(),
                "pgorm: jsonb_contains()/jsonb_contained_in() take a pgorm::Json document");
  return query::binary_operator<Json, bool>(e, " @> ", doc);
}
// e <@ doc: the document contains e.
template <class E, class D>
auto jsonb_contained_in(const E& e, const D& doc) {
  query::check_jsonb<E>();
  static_assert(query::argument_matches<Json, D>(),
                "pgorm: jsonb_contains()/jsonb_contained_in() take a pgorm::Json document");
  return query::binary_operator<Json, bool>(e, " <@ ", doc);
}
// e ? key: the key is a top-level key (or string array element) of e.
template <class E>
auto jsonb_has_key(const E& e, std::string_view key) {
  query::check_jsonb<E>();
  return query::binary_operator<std::string, bool>(e, " ? ", key);
}
// e ?| keys: any of the keys is there; e ?& keys: all of them are.
template <class E>
auto jsonb_has_any_key(const E& e, const std::vector<std::string>& keys) {
  query::check_jsonb<E>();
  return query::binary_operator<std::vector<std::string>, bool>(e, " ?| ", keys);
}
template <class E>
auto jsonb_has_all_keys(const E& e, const std::vector<std::string>& keys) {
  query::check_jsonb<E>();
  return query::binary_operator<std::vector<std::string>, bool>(e, " ?& ", keys);
}
// jsonb_path_exists(e, path): the SQL/JSON path (a bind parameter) matches an item of e.
//   jsonb_path_exists(col<&Event::data>, "$.tags[*] ? (@ == \"urgent\")")
template <class E>
auto jsonb_path_exists(const E& e, std::string_view path) {
  query::check_jsonb<E>();
  query::Term<bool, query::models_of_t<E>, query::result_t<bool, query::may_be_null<E>()>> out;
  out.fragment += "jsonb_path_exists(";
  out.fragment += e.to_expr().fragment;
  out.fragment += ", ";
  out.fragment.add_param(path);
  out.fragment += "::jsonpath)";
  return out;
}

}  // namespace pgorm
