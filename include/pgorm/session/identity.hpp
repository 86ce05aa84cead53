// Identity keys: one string per row identity (table + primary key values), for the identity map.
#pragma once

#include <string>
#include <type_traits>

#include "pgorm/model/model.hpp"
#include "pgorm/query/fragment.hpp"

namespace pgorm::detail {

inline constexpr char kKeySeparator = '\x1f';

template <model T>
constexpr std::size_t primary_key_count() {
  std::size_t n = 0;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if constexpr (Def::template has<primary_key_t>) ++n;
  });
  return n;
}

// Calls f(def) for each primary-key column: chosen at compile time for keys declared with
// pgorm::primary_key; for CustomKey models with primary_key_on<...>, matched by name.
template <model T, class F>
void for_each_key_column(F&& f) {
  if constexpr (primary_key_count<T>() > 0) {
    model_traits<T>::for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if constexpr (Def::template has<primary_key_t>) f(def);
    });
  } else {
    const auto& keys = table_info<T>().primary_key;
    model_traits<T>::for_each_column([&](const auto& def) {
      for (const auto& k : keys)
        if (k == def.name()) f(def);
    });
  }
}

// The identity of an object (or of the column values kept of one): its primary key values,
// encoded.
template <class S>
std::string identity_key(const S& source) {
  using T = source_model_t<S>;
  std::string key;
  for_each_key_column<T>([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!key.empty()) key.push_back(kKeySeparator);
    encode_value(column_ref<Def>(source), key);
  });
  return key;
}

// The identity of the row with these key values (in primary key order).
template <class... Keys>
std::string identity_key_of(const Keys&... keys) {
  std::string key;
  (
      [&](const auto& k) {
        if (!key.empty()) key.push_back(kKeySeparator);
        if constexpr (std::is_convertible_v<decltype(k), std::string_view> &&
                      !column_type<std::remove_cvref_t<decltype(k)>>)
          key.append(std::string_view(k));
        else
          encode_value(k, key);
      }(keys),
      ...);
  return key;
}

// WHERE "t"."pk1" = $n AND ... for an object's key (as held in `source`: the object, or the
// column values kept of it).
template <class S>
void append_key_condition(query::Fragment& out, const S& source) {
  using T = source_model_t<S>;
  bool first = true;
  for_each_key_column<T>([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!first) out += " AND ";
    first = false;
    out.add_identifier(def.name());
    out += " = ";
    out.add_param(column_ref<Def>(source));
  });
}

}  // namespace pgorm::detail
