// Test support: each test gets its own schema in the test server, dropped when the test ends, so
// tests can run in parallel against one database.
#pragma once

#include <string>

#include <pgorm/pgorm.hpp>

namespace pgorm::test {

// DATABASE_URL if set, else "" (libpq's PG* variables, as exported by pg_virtualenv).
std::string base_conninfo();

class TestSchema {
 public:
  TestSchema();
  ~TestSchema();
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& name() const noexcept { return name_; }
  // A conninfo whose connections use this schema (search_path), for engines and extra connections.
  const std::string& conninfo() const noexcept { return conninfo_; }
  // A connection on this schema.
  Connection& conn() noexcept { return conn_; }
  // One value from a query, for checks: scalar<std::int64_t>("SELECT count(*) FROM todos").
  template <class T, class... Args>
  T scalar(std::string_view sql, const Args&... args) {
    return conn_.exec(sql, args...).template value<T>(0, 0);
  }

 private:
  std::string name_;
  std::string conninfo_;
  Connection conn_;
};

}  // namespace pgorm::test

namespace pgorm::test {

// INSERT ... RETURNING of one object through the bulk insert builder, on a plain connection.
template <model T>
T insert_returning(Connection& conn, const T& object) {
  auto st = insert<T>().value(object).returning().statement();
  auto rows = conn.execute(st.sql, st.params).template as<T>();
  return rows.at(0);
}

}  // namespace pgorm::test
