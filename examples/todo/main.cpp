// The todo example end to end: schema, create, list, update, soft delete, against the database in
// DATABASE_URL (or libpq's PG* variables).
#include <cstdlib>

#include <fmt/format.h>

#include "models.hpp"

using namespace todo;

int main() try {
  pgorm::Connection conn = pgorm::Connection::from_env();
  auto metadata = todo::metadata();
  metadata.drop_all(conn);
  metadata.create_all(conn);
  fmt::print("schema created: {} tables\n", metadata.tables().size());

  User alice;
  alice.email = "alice@example.com";
  pgorm::Params params;
  alice = conn.execute(pgorm::sql::insert_returning(alice, params), params).as<User>().at(0);
  fmt::print("created {}\n", alice);

  for (const char* title : {"Buy milk", "Write report", "Call mom"}) {
    Todo t;
    t.title = title;
    t.user_id = alice.id;
    params.clear();
    conn.execute(pgorm::sql::insert_returning(t, params), params);
  }

  conn.exec("UPDATE todos SET status = $1 WHERE title = $2", TodoStatus::completed, "Buy milk");
  conn.exec("UPDATE todos SET deleted_at = now() WHERE title = $1", "Call mom");

  auto live = conn.query<Todo>(pgorm::sql::select_all<Todo>() +
                               " WHERE deleted_at IS NULL AND user_id = $1 ORDER BY id", alice.id);
  for (const auto& t : live) fmt::print("  {}\n", t);
  if (live.size() != 2 || live[0].status != TodoStatus::completed) {
    fmt::print(stderr, "unexpected result\n");
    return EXIT_FAILURE;
  }
  metadata.drop_all(conn);
  fmt::print("todo example finished\n");
  return EXIT_SUCCESS;
} catch (const pgorm::Error& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  return EXIT_FAILURE;
}
