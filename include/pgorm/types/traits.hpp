// How a C++ type maps to a PostgreSQL type: the pgorm::type_traits customization point.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgorm {

// Specialize for your own types (see docs/models.md, "Mapping your own types"):
//
//   template <> struct pgorm::type_traits<Money> {
//     static std::string sql_type() { return "bigint"; }          // DDL type
//     static void encode(const Money& v, std::string& out);       // append PostgreSQL text form
//     static void decode(std::string_view text, Money& out);      // parse it; throw pgorm::DataError
//   };
//
// The primary template marks a type as unmapped so that column declarations can refuse it with
// a readable message instead of a template backtrace.
template <class T, class Enable = void>
struct type_traits {
  static constexpr bool pgorm_unmapped = true;
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool is_optional_v = is_optional<T>::value;

template <class T>
struct unwrap_optional {
  using type = T;
};
template <class T>
struct unwrap_optional<std::optional<T>> {
  using type = T;
};
// The value type of a member: T for both T and std::optional<T>.
template <class T>
using unwrap_optional_t = typename unwrap_optional<T>::type;

// A C++ type with a complete pgorm::type_traits specialization.
template <class T>
concept mapped_type = !requires { type_traits<T>::pgorm_unmapped; } &&
                      requires(const T& value, T& target, std::string& out, std::string_view text) {
                        { type_traits<T>::sql_type() } -> std::convertible_to<std::string>;
                        type_traits<T>::encode(value, out);
                        type_traits<T>::decode(text, target);
                      };

// A member type pgorm can store: a mapped type or std::optional of one (NULL allowed).
template <class T>
concept column_type = mapped_type<unwrap_optional_t<T>>;

// Types that can also read PostgreSQL's binary result format (optional, for speed; pgorm's own
// scalar types do). A model whose columns are all binary-readable is read in binary:
//
//   static bool decode_binary(std::string_view bytes, unsigned type_oid, T& out);
//       // false when the result column's type (OID) is not one it reads in binary
//   static bool binary_declared(std::string_view sql_type);
//       // whether a column declared with this SQL type (pgorm::sql_type) is read in binary
template <class T>
concept binary_readable =
    mapped_type<T> && requires(std::string_view bytes, unsigned type, T& target) {
      { type_traits<T>::decode_binary(bytes, type, target) } -> std::same_as<bool>;
      { type_traits<T>::binary_declared(bytes) } -> std::same_as<bool>;
    };

namespace detail {
// DataError: a result column of type OID `type` cannot be read into a member of `cpp_sql_type`.
[[noreturn]] void throw_binary_type(unsigned type, std::string_view cpp_sql_type);
// PostgreSQL's text output of a binary value of a built-in type pgorm knows (integers, floats,
// bool, text types, bytea, date, timestamps, uuid); false for other types.
bool binary_to_text(std::string_view bytes, unsigned type, std::string& out);
}  // namespace detail

// Encodes a value (or optional) as PostgreSQL text; returns false for NULL.
template <column_type T>
bool encode_value(const T& value, std::string& out) {
  if constexpr (is_optional_v<T>) {
    if (!value) return false;
    type_traits<unwrap_optional_t<T>>::encode(*value, out);
  } else {
    type_traits<T>::encode(value, out);
  }
  return true;
}

// Decodes PostgreSQL text into a value or optional; `is_null` marks SQL NULL.
// A NULL read into a non-optional member is a DataError raised by the caller, who knows the column.
template <column_type T>
bool decode_value(std::string_view text, bool is_null, T& out) {
  if constexpr (is_optional_v<T>) {
    if (is_null) {
      out.reset();
      return true;
    }
    if (!out) out.emplace();
    type_traits<unwrap_optional_t<T>>::decode(text, *out);
    return true;
  } else {
    if (is_null) return false;
    type_traits<T>::decode(text, out);
    return true;
  }
}

// Decodes a value of a binary-format result column of type OID `type`, as decode_value does text.
// A column of another type than the C++ type reads in binary (a schema that differs from the
// model, a view) is read through its text form when pgorm knows that type's binary form.
template <column_type T>
bool decode_binary_value(std::string_view bytes, bool is_null, unsigned type, T& out) {
  using U = unwrap_optional_t<T>;
  U* target = nullptr;
  if constexpr (is_optional_v<T>) {
    if (is_null) {
      out.reset();
      return true;
    }
    if (!out) out.emplace();
    target = &*out;
  } else {
    if (is_null) return false;
    target = &out;
  }
  if constexpr (binary_readable<U>) {
    if (type_traits<U>::decode_binary(bytes, type, *target)) return true;
  }
  std::string text;
  if (!detail::binary_to_text(bytes, type, text))
    detail::throw_binary_type(type, type_traits<U>::sql_type());
  type_traits<U>::decode(text, *target);
  return true;
}

}  // namespace pgorm
