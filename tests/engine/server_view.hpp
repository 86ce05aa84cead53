// What the server sees of the pool under test: its connections in pg_stat_activity (found by the
// engine's application_name) and backends ending. Shared by the engine and pool tests.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "support/db.hpp"

namespace pgorm::test {

// A backend leaves pg_stat_activity a little after its client closed the connection or it was
// terminated: poll until the query returns `expected` (or 5 s pass) and return the last value.
template <class T, class... Args>
T eventually(TestSchema& db, T expected, std::string_view sql, const Args&... args) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  T value = db.scalar<T>(sql, args...);
  while (value != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    value = db.scalar<T>(sql, args...);
  }
  return value;
}

inline constexpr std::string_view kConnectionsNamed =
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1";

// Connections the server has for this application_name, now.
inline std::int64_t connections_named(TestSchema& db, const std::string& application_name) {
  return db.scalar<std::int64_t>(kConnectionsNamed, application_name);
}

// The same once closed connections have gone away (5 s at most).
inline std::int64_t settled_connections_named(TestSchema& db, const std::string& application_name,
                                              std::int64_t expected) {
  return eventually<std::int64_t>(db, expected, kConnectionsNamed, application_name);
}

// Terminates a backend from the test's own connection and waits until it is gone.
inline void kill_backend(TestSchema& db, int pid) {
  REQUIRE(db.scalar<bool>("SELECT pg_terminate_backend($1)", pid));
  REQUIRE(eventually<std::int64_t>(db, 0, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                                   pid) == 0);
}

// The backend serving `connection`, as the server reports it.
inline int server_pid(Connection& connection) {
  return connection.exec("SELECT pg_backend_pid()").value<int>(0, 0);
}

// Engine options whose application_name (the schema's unique name) finds the engine's connections.
inline EngineOptions named_after(const TestSchema& db) {
  EngineOptions options;
  options.application_name = db.name();
  return options;
}

}  // namespace pgorm::test
