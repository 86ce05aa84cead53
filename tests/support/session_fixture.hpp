// A schema with the shared test models, an engine on it and helpers to read what the server holds.
#pragma once

#include <pgorm/pgorm.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "support/db.hpp"
#include "support/models.hpp"

namespace pgorm::test {

// The ids of each user's loaded todos, sorted: compares what two loading strategies produced.
inline std::map<std::int32_t, std::vector<std::int32_t>> todo_ids_by_user(
    const std::vector<std::shared_ptr<testmodels::User>>& users) {
  std::map<std::int32_t, std::vector<std::int32_t>> out;
  for (const auto& u : users) {
    auto& ids = out[u->id];
    for (const auto& t : u->todos) ids.push_back(t->id);
    std::sort(ids.begin(), ids.end());
  }
  return out;
}

// A new user / todo added to a session (Session or AsyncSession).
inline std::shared_ptr<testmodels::User> new_user(detail::Tracker& s, std::string email) {
  testmodels::User u;
  u.email = std::move(email);
  return s.add(std::move(u));
}
inline std::shared_ptr<testmodels::Todo> new_todo(detail::Tracker& s, std::int32_t user_id,
                                                  std::string title) {
  testmodels::Todo t;
  t.title = std::move(title);
  t.user_id = user_id;
  return s.add(std::move(t));
}

// Engine options that keep the text of every statement sent.
inline EngineOptions recording(std::vector<std::string>& sent) {
  EngineOptions options;
  options.hooks.before_statement = [&sent](const StatementEvent& e) { sent.emplace_back(e.sql); };
  return options;
}
inline bool any_starts_with(const std::vector<std::string>& sent, std::string_view prefix) {
  return std::any_of(sent.begin(), sent.end(),
                     [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
}

// A deferred constraint trigger that makes every COMMIT of a transaction that inserted into
// users take 2 s (a COMMIT a deadline can cancel on the server); DROP TRIGGER slow_commit ON users
// ends it.
inline void add_slow_commit_trigger(Connection& conn) {
  conn.execute_script(R"sql(
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON users
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
  )sql");
}

inline Metadata session_models() {
  using namespace testmodels;
  return Metadata::of<User, Todo, ApiKey, Project, Task, Category, TodoCategory>();
}

struct SessionFixture {
  TestSchema db;
  Engine engine;
  explicit SessionFixture(EngineOptions options = {}) : engine(make(options)) {}

  Engine make(EngineOptions options) {
    session_models().create_all(db.conn());
    return Engine(db.conninfo(), options);
  }
  Session session(SessionOptions options = {}) { return Session(engine, options); }
  std::int64_t count(std::string_view table) {
    return db.scalar<std::int64_t>("SELECT count(*) FROM " + sql::quote_identifier(table));
  }
  // `users` users with `todos_each` todos each, inserted directly.
  void insert_users_with_todos(int users, int todos_each) {
    db.conn().exec(
        "INSERT INTO users (email) SELECT 'user' || g || '@example.com' "
        "FROM generate_series(1, $1) g",
        users);
    db.conn().exec(
        "INSERT INTO todos (title, user_id) SELECT 'todo ' || u.id || '.' || g, u.id "
        "FROM users u, generate_series(1, $1) g",
        todos_each);
  }
  // A user row inserted directly, for tests that need existing data.
  std::int32_t insert_user(std::string_view email) {
    return db.scalar<std::int32_t>("INSERT INTO users (email) VALUES ($1) RETURNING id", email);
  }
  // Replaces the foreign key todos.user_id -> users.id with one that has `clause` (e.g.
  // "ON DELETE NO ACTION", "DEFERRABLE INITIALLY DEFERRED"), for tests of other key behaviours.
  void redefine_todo_user_fk(std::string_view clause) {
    auto name = db.scalar<std::string>(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = 'todos'::regclass "
        "AND confrelid = 'users'::regclass AND contype = 'f'");
    db.conn().execute_script(
        fmt::format("ALTER TABLE todos DROP CONSTRAINT {0}, "
                    "ADD CONSTRAINT {0} FOREIGN KEY (user_id) REFERENCES users (id) {1}",
                    sql::quote_identifier(name), clause));
  }
  std::int32_t insert_todo(std::int32_t user_id, std::string_view title,
                           std::string_view status = "pending") {
    return db.scalar<std::int32_t>(
        "INSERT INTO todos (title, user_id, status) VALUES ($1, $2, $3::todo_status) RETURNING id",
        title, user_id, status);
  }
};

}  // namespace pgorm::test
