// A schema with the shared test models, an engine on it and helpers to read what the server holds.
#pragma once

#include <pgorm/pgorm.hpp>

#include "support/db.hpp"
#include "support/models.hpp"

namespace pgorm::test {

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
  // A user row inserted directly, for tests that need existing data.
  std::int32_t insert_user(std::string_view email) {
    return db.scalar<std::int32_t>("INSERT INTO users (email) VALUES ($1) RETURNING id", email);
  }
  std::int32_t insert_todo(std::int32_t user_id, std::string_view title,
                           std::string_view status = "pending") {
    return db.scalar<std::int32_t>(
        "INSERT INTO todos (title, user_id, status) VALUES ($1, $2, $3::todo_status) RETURNING id",
        title, user_id, status);
  }
};

}  // namespace pgorm::test
