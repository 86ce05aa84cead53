// The todo example end to end against the database in DATABASE_URL (or libpq's PG* variables):
// schema, create, list, search, update, soft delete, and the errors a user can cause.
#include <cstdlib>

#include <fmt/format.h>

#include "models.hpp"
#include "todo_service.hpp"

using namespace todo;

namespace {
void expect(bool ok, std::string_view what) {
  if (!ok) throw std::runtime_error(fmt::format("unexpected result: {}", what));
  fmt::print("  ok: {}\n", what);
}
}  // namespace

int main() try {
  pgorm::Engine engine = pgorm::Engine::from_env({.pool_size = 2, .max_overflow = 2});
  fmt::print("engine: {}\n", engine.to_string());
  {
    auto conn = engine.connect();
    todo::metadata().drop_all(*conn);
    todo::metadata().create_all(*conn);
  }
  pgorm::SessionFactory sessions(engine, {.autoflush = false, .expire_on_commit = false});

  std::int32_t alice_id = 0;
  {
    pgorm::Session db = sessions();
    User alice;
    alice.email = "alice@example.com";
    auto user = db.add(std::move(alice));
    db.commit();
    alice_id = user->id;
    fmt::print("created {}\n", *user);
  }

  std::int32_t milk_id = 0;
  {
    pgorm::Session db = sessions();
    TodoService todos(db);
    milk_id = todos.create({"Buy milk", "two litres", alice_id})->id;
    todos.create({"Write report", std::nullopt, alice_id});
    todos.create({"Call mom", std::nullopt, alice_id});
    auto page = todos.list({.skip = 0, .limit = 10});
    for (const auto& t : page) fmt::print("  {} (by {})\n", *t, t->user->email);
    expect(page.size() == 3, "three todos listed");
    expect(page.front()->title == "Call mom", "newest first");
  }

  {
    pgorm::Session db = sessions();
    TodoService todos(db);
    auto before = db.statements_executed();
    auto users = todos.users_with_todos();
    expect(db.statements_executed() - before == 2, "users with their todos in two statements");
    expect(users.size() == 1 && users[0]->todos.size() == 3, "alice has three todos");
    // A new todo appended to the collection gets its user_id at commit (back_populates).
    auto extra = std::make_shared<Todo>();
    extra->title = "Water plants";
    users[0]->todos.add(extra);
    db.commit();
    expect(extra->id > 0 && extra->user_id == alice_id, "appended todo inserted for alice");
    // delete-orphan: taking it out of the collection deletes it (soft delete for todos).
    users[0]->todos.remove(extra);
    db.commit();
    expect(extra->is_deleted(), "orphaned todo soft-deleted");
  }

  {
    pgorm::Session db = sessions();
    TodoService todos(db);
    auto done = todos.update(milk_id, {.status = TodoStatus::completed});
    expect(done && done->status == TodoStatus::completed, "todo completed");
    expect(todos.search("MILK", TodoStatus::completed).size() == 1, "search finds it");
    expect(todos.remove(milk_id), "todo soft-deleted");
    expect(todos.get(milk_id) == nullptr, "soft-deleted todo is gone from queries");
    expect(todos.list({}).size() == 2, "two live todos left");
  }

  {
    pgorm::Session db = sessions();
    User dup;
    dup.email = "alice@example.com";
    db.add(dup);
    try {
      db.commit();
      expect(false, "duplicate email refused");
    } catch (const pgorm::UniqueViolation& e) {
      expect(e.constraint() == "uq_users_email", "duplicate email refused: " + e.constraint());
    }
  }

  {
    auto conn = engine.connect();
    todo::metadata().drop_all(*conn);
  }
  fmt::print("todo example finished\n");
  return EXIT_SUCCESS;
} catch (const std::exception& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  return EXIT_FAILURE;
}
