// The templated mixins a model is built from: keys, timestamps, soft delete, table naming.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>

#include "pgorm/model/column.hpp"
#include "pgorm/types/timestamp.hpp"
#include "pgorm/types/uuid.hpp"

namespace pgorm {

// A mixin is a type with a nested `template <class Model> struct fields` (the members it adds)
// and `template <class Model> static constexpr auto columns()` (their column declarations).
// Members live in fields<Model>, one distinct base per model, so &Todo::id names Todo.

// Integer primary key "id" (serial). The default when a model names no key mixin.
struct IntKey {
  static constexpr bool is_key_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
    std::int32_t id = 0;  // 0 until the row is inserted
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::id>(primary_key, serial)};
  }
};

// 64-bit integer primary key "id" (bigserial).
struct BigIntKey {
  static constexpr bool is_key_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
    std::int64_t id = 0;
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::id>(primary_key, serial)};
  }
};

enum class uuid_version { v4 = 4, v7 = 7 };

// UUID primary key "id" with DEFAULT gen_random_uuid() on the server. The session gives a new
// object a client-side UUID when it is added (version 7 by default: time-ordered, index-friendly),
// so its identity is known before the INSERT.
template <uuid_version Version = uuid_version::v7>
struct UuidKeyOf {
  static constexpr bool is_key_mixin = true;
  static constexpr bool generates_key = true;
  static Uuid generate() { return Version == uuid_version::v7 ? Uuid::v7() : Uuid::v4(); }
  template <class M>
  struct fields {
    using pgorm_model = M;
    Uuid id;  // nil until added to a session (or set it yourself)
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::id>(primary_key, server_default("gen_random_uuid()"))};
  }
};
using UuidKey = UuidKeyOf<uuid_version::v7>;
using UuidV4Key = UuidKeyOf<uuid_version::v4>;

// No generated key: the model declares its own primary key, with pgorm::primary_key on a column
// or pgorm::primary_key_on<&A::x, &A::y>() in its table_args (association tables).
struct CustomKey {
  static constexpr bool is_key_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple<>{};
  }
};

// created_at and updated_at (timestamptz, UTC, DEFAULT now()); the session sets created_at on
// insert and bumps updated_at on every update.
struct Timestamps {
  static constexpr bool is_timestamps_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
    Timestamp created_at{};
    Timestamp updated_at{};
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::created_at>(server_default("now()")),
                      column<&fields<M>::updated_at>(server_default("now()"))};
  }
};

// deleted_at (timestamptz NULL): removing such an object sets deleted_at instead of deleting the
// row, and queries leave deleted rows out unless asked.
struct SoftDelete {
  static constexpr bool is_soft_delete_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
    std::optional<Timestamp> deleted_at;
    bool is_deleted() const noexcept { return deleted_at.has_value(); }
    void soft_delete(Timestamp at = now()) noexcept { deleted_at = at; }
    void restore() noexcept { deleted_at.reset(); }
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::deleted_at>()};
  }
};

// Optimistic locking: an integer "version" column that every flush UPDATE and DELETE checks
// (WHERE ... AND version = <the version read>) and every UPDATE bumps. When another transaction
// changed or deleted the row since it was read, the flush throws StaleDataError instead of
// overwriting that change. A new object's first INSERT writes version 1.
struct Versioned {
  static constexpr bool is_versioned_mixin = true;
  template <class M>
  struct fields {
    using pgorm_model = M;
    std::int32_t version = 0;  // 0 until inserted
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple{column<&fields<M>::version>()};
  }
};

// A string usable as a template argument: TableName<"api_keys">.
template <std::size_t N>
struct fixed_string {
  char chars[N]{};
  constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, chars); }
  constexpr std::string_view view() const { return {chars, N - 1}; }
};

// An explicit table name instead of the derived one (ApiKey -> "api_keys").
template <fixed_string Name>
struct TableName {
  static_assert(Name.view().size() > 0, "pgorm::TableName: the name must not be empty");
  static_assert(Name.view().size() <= 63,
                "pgorm::TableName: PostgreSQL identifiers are at most 63 bytes");
  static constexpr bool is_table_name_mixin = true;
  static constexpr std::string_view name = Name.view();
  template <class M>
  struct fields {
    using pgorm_model = M;
  };
  template <class M>
  static constexpr auto columns() {
    return std::tuple<>{};
  }
};

}  // namespace pgorm
