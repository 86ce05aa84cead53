// Identity keys: one value per row identity (its primary key values), for the identity map: the
// integer itself for a single integer primary key, the Uuid for a single uuid key, otherwise the
// key values encoded in one string.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "pgorm/errors.hpp"
#include "pgorm/model/model.hpp"
#include "pgorm/query/fragment.hpp"
#include "pgorm/types/uuid.hpp"

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

// The member type of the first column declared with pgorm::primary_key (void when none is).
template <class T, class Defs>
struct declared_key_value {
  using type = void;
};
template <class T, class Def, class... Rest>
struct declared_key_value<T, std::tuple<Def, Rest...>> {
  using type = std::conditional_t<Def::template has<primary_key_t>,
                                  std::remove_cvref_t<decltype(Def::ref(std::declval<T&>()))>,
                                  typename declared_key_value<T, std::tuple<Rest...>>::type>;
};

template <model T,
          class V = typename declared_key_value<T, typename model_traits<T>::columns_type>::type>
using identity_key_t = std::conditional_t<
    primary_key_count<T>() == 1 && std::is_integral_v<V> && !std::is_same_v<V, bool>, std::int64_t,
    std::conditional_t<primary_key_count<T>() == 1 && std::is_same_v<V, Uuid>, Uuid, std::string>>;

// The key values encoded in one string (models whose key is not a single integer or uuid).
template <class... Keys>
std::string encoded_key_of(const Keys&... keys) {
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

// The identity of an object (or of the column values kept of one).
template <class S>
identity_key_t<source_model_t<S>> identity_key(const S& source) {
  using T = source_model_t<S>;
  using Key = identity_key_t<T>;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::string key;
    for_each_key_column<T>([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if (!key.empty()) key.push_back(kKeySeparator);
      encode_value(column_ref<Def>(source), key);
    });
    return key;
  } else {
    Key key{};
    for_each_key_column<T>([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      key = static_cast<Key>(column_ref<Def>(source));
    });
    return key;
  }
}

// The identity of the row of T with these key values (in primary key order), as get() is given
// them. std::nullopt when they cannot name a tracked row without asking the server (an integer
// key given as text that is not a plain integer): the row is then read and tracked as any.
template <model T, class... Keys>
std::optional<identity_key_t<T>> identity_key_of(const Keys&... keys) {
  using Key = identity_key_t<T>;
  // A NULL key part names no row (the server answers none); it must not match a tracked key
  // whose part is the empty string.
  const bool null_part = ([](const auto& k) {
    if constexpr (is_optional_v<std::remove_cvref_t<decltype(k)>>)
      return !k.has_value();
    else
      return false;
  }(keys) || ...);
  if (null_part) return std::nullopt;
  if constexpr (std::is_same_v<Key, std::string>) {
    return encoded_key_of(keys...);
  } else if constexpr (sizeof...(Keys) != 1) {
    return std::nullopt;  // the server refuses the statement
  } else {
    const auto& k = std::get<0>(std::tie(keys...));
    using K = std::remove_cvref_t<decltype(k)>;
    if constexpr (is_optional_v<K>) {
      return identity_key_of<T>(*k);
    } else if constexpr (std::is_same_v<Key, std::int64_t> && std::is_integral_v<K> &&
                         !std::is_same_v<K, bool>) {
      return static_cast<std::int64_t>(k);
    } else if constexpr (std::is_same_v<Key, Uuid> && std::is_same_v<K, Uuid>) {
      return k;
    } else if constexpr (std::is_convertible_v<const K&, std::string_view>) {
      const std::string_view text(k);
      if constexpr (std::is_same_v<Key, Uuid>) {
        try {
          return Uuid::parse(text);
        } catch (const DataError&) {
          return std::nullopt;  // the server refuses it with its own error
        }
      } else {
        std::int64_t value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
        return value;
      }
    } else {
      return std::nullopt;
    }
  }
}

// WHERE "t"."pk1" = $n AND ... for an object's key (as held in `source`: the object, or the
// column values kept of it).
template <class S, class Out>
void append_key_condition(Out& out, const S& source) {
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
