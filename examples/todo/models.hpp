// The todo app's models: copy this file's pattern into your own app.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <pgorm/pgorm.hpp>

namespace todo {
enum class TodoStatus { pending, completed, archived };
}

// A native PostgreSQL enum type "todo_status".
template <>
struct pgorm::enum_traits<todo::TodoStatus> {
  static constexpr std::string_view type_name = "todo_status";
  static constexpr std::array values{std::pair{todo::TodoStatus::pending, "pending"},
                                     std::pair{todo::TodoStatus::completed, "completed"},
                                     std::pair{todo::TodoStatus::archived, "archived"}};
};

namespace todo {

struct Todo;

// Table "users": id serial primary key, email, created_at, updated_at.
struct User : pgorm::Model<User, pgorm::Timestamps> {
  std::string email;
  // relationship("Todo", back_populates="user", cascade="all, delete-orphan")
  pgorm::HasMany<Todo> todos;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&User::email>(pgorm::varchar(255), pgorm::unique));
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&User::todos>(pgorm::cascade::all_delete_orphan));
};

// Table "todos": soft-deleted rows keep a deleted_at.
struct Todo : pgorm::Model<Todo, pgorm::Timestamps, pgorm::SoftDelete> {
  std::string title;
  std::optional<std::string> description;  // NULL allowed
  TodoStatus status = TodoStatus::pending;
  std::int32_t user_id = 0;
  pgorm::BelongsTo<User, &Todo::user_id> user;  // relationship("User", back_populates="todos")
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Todo::user>(pgorm::back_populates<&User::todos>));
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Todo::title>(pgorm::varchar(255), pgorm::indexed),
                     pgorm::column<&Todo::description>(pgorm::text),
                     pgorm::column<&Todo::status>(pgorm::default_value(TodoStatus::pending)),
                     pgorm::column<&Todo::user_id>(
                         pgorm::foreign_key<&User::id>(pgorm::on_delete::cascade), pgorm::indexed));
};

inline pgorm::Metadata metadata() {
  return pgorm::Metadata::of<User, Todo>();
}

}  // namespace todo

// Compiled once, in models.cpp, rather than in every file that uses a session (compile time).
PGORM_EXTERN_MODEL(todo::User);
PGORM_EXTERN_MODEL(todo::Todo);
