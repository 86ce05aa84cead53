// Full-text search: to_tsvector, to_tsquery / plainto_tsquery / websearch_to_tsquery, the @@ match
// and ts_rank. The configuration name and the query text are bind parameters.
//   select<Doc>().where(matches(to_tsvector("english", col<&Doc::body>),
//                               websearch_to_tsquery("english", words)))
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "pgorm/query/call.hpp"

namespace pgorm {

// The types of tsvector and tsquery expressions. They are not read into C++: select what you need
// (ts_rank, the matched rows) instead.
struct TextSearchVector {};
struct TextSearchQuery {};

namespace query {
template <class R, class E>
auto text_search_call(std::string_view name, std::string_view config, const E& text) {
  static_assert(argument_matches<std::string, E>(),
                "pgorm: to_tsvector() and the *_tsquery() functions take text");
  Term<R, arguments_models_t<E>, result_t<R, may_be_null<E>()>> out;
  out.fragment += name;
  out.fragment += "(";
  out.fragment.add_param(config);
  out.fragment += "::regconfig, ";
  add_argument<std::string>(out.fragment, text, name);
  out.fragment += ")";
  return out;
}
template <class V, class Q>
constexpr void check_match() {
  static_assert(expression<V> && expression<Q> && std::is_same_v<value_of_t<V>, TextSearchVector> &&
                    std::is_same_v<value_of_t<Q>, TextSearchQuery>,
                "pgorm: matches()/ts_rank() take a to_tsvector(...) and a *_tsquery(...)");
}
}  // namespace query

// to_tsvector(config, text): `config` is a text search configuration such as "english".
template <class E>
auto to_tsvector(std::string_view config, const E& text) {
  return query::text_search_call<TextSearchVector>("to_tsvector", config, text);
}
// Queries from text: to_tsquery (operators & | ! and :*), plainto_tsquery (all the words),
// websearch_to_tsquery (what a search box takes: "quoted phrases", or, -excluded).
template <class E>
auto to_tsquery(std::string_view config, const E& text) {
  return query::text_search_call<TextSearchQuery>("to_tsquery", config, text);
}
template <class E>
auto plainto_tsquery(std::string_view config, const E& text) {
  return query::text_search_call<TextSearchQuery>("plainto_tsquery", config, text);
}
template <class E>
auto websearch_to_tsquery(std::string_view config, const E& text) {
  return query::text_search_call<TextSearchQuery>("websearch_to_tsquery", config, text);
}

// vector @@ query: the document matches the query.
template <class V, class Q>
auto matches(const V& vector, const Q& query_expr) {
  query::check_match<V, Q>();
  query::Term<bool, query::arguments_models_t<V, Q>,
              query::result_t<bool, query::may_be_null<V>() || query::may_be_null<Q>()>>
      out;
  out.fragment += "(";
  out.fragment += vector.to_expr().fragment;
  out.fragment += " @@ ";
  out.fragment += query_expr.to_expr().fragment;
  out.fragment += ")";
  return out;
}
// ts_rank(vector, query): how well the document matches (real: float), for ORDER BY ... DESC;
// std::optional when the document's text may be NULL.
template <class V, class Q>
auto ts_rank(const V& vector, const Q& query_expr) {
  query::check_match<V, Q>();
  query::Term<float, query::arguments_models_t<V, Q>,
              query::result_t<float, query::may_be_null<V>() || query::may_be_null<Q>()>>
      out;
  out.fragment += "ts_rank(";
  out.fragment += vector.to_expr().fragment;
  out.fragment += ", ";
  out.fragment += query_expr.to_expr().fragment;
  out.fragment += ")";
  return out;
}

}  // namespace pgorm
