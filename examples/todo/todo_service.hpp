// The todo app's service layer: what a request handler calls, one Session per request.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models.hpp"

namespace todo {

struct Pagination {
  std::int64_t skip = 0;
  std::int64_t limit = 100;
};

struct TodoCreate {
  std::string title;
  std::optional<std::string> description;
  std::int32_t user_id = 0;
};

struct TodoUpdate {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<TodoStatus> status;
};

class TodoService {
 public:
  explicit TodoService(pgorm::Session& db) : db_(db) {}

  // Live todos, newest first, each with its user (same statement: a JOIN, no N+1).
  std::vector<std::shared_ptr<Todo>> list(const Pagination& page) {
    using pgorm::col;
    return db_.execute(pgorm::select<Todo>()
                           .order_by(col<&Todo::created_at>.desc(), col<&Todo::id>.desc())
                           .offset(page.skip)
                           .limit(page.limit)
                           .options(pgorm::joined(&Todo::user)));
  }

  // Users with their todos: two statements whatever the number of users.
  std::vector<std::shared_ptr<User>> users_with_todos() {
    using pgorm::col;
    return db_.execute(
        pgorm::select<User>().order_by(col<&User::id>).options(pgorm::selectin(&User::todos)));
  }

  std::vector<std::shared_ptr<Todo>> search(std::string_view text, TodoStatus status) {
    using pgorm::col;
    return db_.execute(pgorm::select<Todo>()
                           .where(col<&Todo::status> == status &&
                                  col<&Todo::title>.ilike("%" + std::string(text) + "%"))
                           .order_by(col<&Todo::id>));
  }

  std::shared_ptr<Todo> get(std::int32_t id) { return db_.get<Todo>(id); }

  std::shared_ptr<Todo> create(const TodoCreate& in) {
    Todo todo;
    todo.title = in.title;
    todo.description = in.description;
    todo.user_id = in.user_id;
    auto tracked = db_.add(std::move(todo));
    db_.commit();  // id, created_at and updated_at come back from the server
    return tracked;
  }

  // nullptr when there is no such (live) todo.
  std::shared_ptr<Todo> update(std::int32_t id, const TodoUpdate& in) {
    auto todo = db_.get<Todo>(id);
    if (!todo) return nullptr;
    if (in.title) todo->title = *in.title;
    if (in.description) todo->description = in.description;
    if (in.status) todo->status = *in.status;
    db_.commit();  // sends only the columns that changed
    return todo;
  }

  // Soft delete: the row stays, with deleted_at set.
  bool remove(std::int32_t id) {
    auto todo = db_.get<Todo>(id);
    if (!todo) return false;
    db_.remove(todo);
    db_.commit();
    return true;
  }

 private:
  pgorm::Session& db_;
};

}  // namespace todo
