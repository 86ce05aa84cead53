// AsyncSession::stream() / stream_values(): chunks through a server-side cursor, one co_await
// next() per chunk. Mirrors tests/session/stream_test.cpp: rows read back equal the table, chunk
// boundaries, an error in the middle, a stream abandoned half-way, other statements refused while
// it is open, tracked objects are the session's objects.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

namespace {

void insert_users(test::AsyncFixture& fx, int n) {
  fx.db.conn().exec(
      "INSERT INTO users (email) SELECT 'user' || g || '@example.com' "
      "FROM generate_series(1, $1) g ORDER BY g",
      n);
}

struct Checksum {
  std::int64_t rows = 0;
  std::int64_t ids = 0;
  std::int64_t email_chars = 0;
  void add(std::int32_t id, const std::string& email) {
    ++rows;
    ids += id;
    email_chars += static_cast<std::int64_t>(email.size());
  }
  bool operator==(const Checksum&) const = default;
};

Checksum server_checksum(test::AsyncFixture& fx) {
  Checksum c;
  auto r = fx.db.conn().execute(
      "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(length(email)), 0) FROM users");
  c.rows = r.value<std::int64_t>(0, 0);
  c.ids = r.value<std::int64_t>(0, 1);
  c.email_chars = r.value<std::int64_t>(0, 2);
  return c;
}

}  // namespace

TEST_CASE("async: stream_values() reads back every row, the DECLARE with the first FETCH",
          "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 25);
  auto s = fx.session();
  Checksum read;
  std::vector<std::size_t> chunks;
  fx.run([&]() -> awaitable<void> {
    auto rows =
        co_await s.stream_values(select<User>().order_by(col<&User::id>), {.chunk_rows = 10});
    while (auto chunk = co_await rows.next()) {
      chunks.push_back(chunk->size());
      for (const User& u : *chunk) read.add(u.id, u.email);
    }
  }());
  CHECK(read == server_checksum(fx));
  CHECK(chunks == std::vector<std::size_t>{10, 10, 5});
  // BEGIN + DECLARE + FETCH, FETCH, FETCH, COMMIT.
  CHECK(s.round_trips() == 4);
  CHECK(s.statements_executed() == 6);
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("async: stream chunk boundaries: no row, exactly one chunk, one row more",
          "[async][stream]") {
  auto chunks_of = [](int rows) {
    test::AsyncFixture fx;
    insert_users(fx, rows);
    auto s = fx.session();
    std::vector<std::size_t> chunks;
    Checksum read;
    fx.run([&]() -> awaitable<void> {
      auto stream =
          co_await s.stream(select(col<&User::id>, col<&User::email>), {.chunk_rows = 10});
      while (auto chunk = co_await stream.next()) {
        chunks.push_back(chunk->size());
        for (const auto& [id, email] : *chunk) read.add(id, email);
      }
    }());
    CHECK(read == server_checksum(fx));
    CHECK_FALSE(s.in_transaction());
    return chunks;
  };
  CHECK(chunks_of(0).empty());
  CHECK(chunks_of(10) == std::vector<std::size_t>{10});
  CHECK(chunks_of(11) == std::vector<std::size_t>{10, 1});
}

TEST_CASE("async: an error in the middle of a stream is thrown from next()", "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 3000);
  auto s = fx.session();
  std::int64_t seen = 0;
  bool data_error = false;
  std::string sqlstate;
  std::int64_t after = 0;
  fx.run([&]() -> awaitable<void> {
    auto q = select(col<&User::id>, expr<std::int32_t>("1 / ({} - {})", col<&User::id>, 2501))
                 .order_by(col<&User::id>);
    auto rows = co_await s.stream(q, {.chunk_rows = 1000});
    try {
      while (auto chunk = co_await rows.next()) seen += static_cast<std::int64_t>(chunk->size());
    } catch (const DataError& e) {
      data_error = true;
      sqlstate = e.sqlstate();
    }
    after = co_await s.count(select<User>());
  }());
  CHECK(data_error);
  CHECK(sqlstate == "22012");
  CHECK(seen == 2000);
  CHECK(after == 3000);
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("async: a stream abandoned half-way leaves the session usable", "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 100);
  auto s = fx.session();

  SECTION("outside a transaction") {
    bool in_transaction_while_open = false;
    std::int64_t count = 0;
    fx.run([&]() -> awaitable<void> {
      {
        auto rows = co_await s.stream_values(select<User>(), {.chunk_rows = 10});
        auto chunk = co_await rows.next();
        in_transaction_while_open = s.in_transaction();
      }
      count = co_await s.count(select<User>());
      test::new_user(s, "later@example.com");
      co_await s.commit();
    }());
    CHECK(in_transaction_while_open);
    CHECK(count == 100);
    CHECK_FALSE(s.in_transaction());
    CHECK(fx.count("users") == 101);
  }

  SECTION("inside the caller's transaction: the cursor is closed, the transaction goes on") {
    bool in_transaction_after = false;
    fx.run([&]() -> awaitable<void> {
      co_await s.begin();
      test::new_user(s, "first@example.com");
      co_await s.flush();
      {
        auto rows = co_await s.stream(select<User>(), {.chunk_rows = 10});
        auto chunk = co_await rows.next();
      }
      test::new_user(s, "second@example.com");
      co_await s.flush();
      in_transaction_after = s.in_transaction();
      co_await s.commit();
    }());
    CHECK(in_transaction_after);
    CHECK(fx.count("users") == 102);
  }
}

TEST_CASE("async: other statements while a stream is open throw StreamOpen", "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 30);
  auto s = fx.session();
  auto pending = test::new_user(s, "pending@example.com");
  std::vector<bool> refused;
  std::int64_t rows_read = 0;
  fx.run([&]() -> awaitable<void> {
    auto rows = co_await s.stream_values(select<User>(), {.chunk_rows = 10});
    auto chunk = co_await rows.next();
    refused.push_back(co_await test::throws_as<StreamOpen>(s.flush()));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.commit()));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.get<User>(29)));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.count(select<User>())));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.execute_sql("DELETE FROM users")));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.stream_values(select<User>())));
    refused.push_back(co_await test::throws_as<StreamOpen>(s.begin()));
    while (chunk) {
      rows_read += static_cast<std::int64_t>(chunk->size());
      chunk = co_await rows.next();
    }
    co_await s.commit();
  }());
  CHECK(refused == std::vector<bool>(7, true));
  CHECK(rows_read == 30);
  CHECK(fx.count("users") == 31);
  CHECK(pending->id > 0);
}

TEST_CASE("async: tracked stream objects are the session's objects while the stream holds them",
          "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 50);
  auto s = fx.session();
  std::shared_ptr<User> kept;
  std::weak_ptr<User> dropped;
  bool same_as_get = true;
  Checksum read;
  const Checksum expected = server_checksum(fx);
  fx.run([&]() -> awaitable<void> {
    auto rows = co_await s.stream(select<User>().order_by(col<&User::id>), {.chunk_rows = 10});
    while (auto chunk = co_await rows.next()) {
      for (const auto& u : *chunk) {
        read.add(u->id, u->email);
        auto got = co_await s.get<User>(u->id);  // from the identity map: no statement
        same_as_get = same_as_get && got == u && s.contains(u);
        if (u->id == 3) kept = u;
        if (u->id == 4) dropped = u;
        if (u->id == 5) u->email = "changed@example.com";
      }
    }
    co_await s.commit();
  }());
  CHECK(same_as_get);
  CHECK(read == expected);
  CHECK(s.contains(kept));
  CHECK(dropped.expired());
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = 5") == "changed@example.com");
}

TEST_CASE("async: each next() has its own deadline", "[async][stream]") {
  test::AsyncFixture fx;
  insert_users(fx, 20);
  auto s = fx.session();
  std::int64_t seen = 0;
  bool deadline = false;
  std::int64_t after = 0;
  fx.run([&]() -> awaitable<void> {
    auto q =
        select(col<&User::id>,
               expr<bool>(
                   "CASE WHEN {} > {} THEN (SELECT true FROM pg_sleep(0.2 + 0 * {})) ELSE true END",
                   col<&User::id>, 10, col<&User::id>))
            .order_by(col<&User::id>);
    auto rows = co_await s.stream(q, {.chunk_rows = 10}, Timeout{std::chrono::milliseconds(1000)});
    try {
      while (auto chunk = co_await rows.next(Timeout{std::chrono::milliseconds(300)}))
        seen += static_cast<std::int64_t>(chunk->size());
    } catch (const DeadlineExceeded&) {
      deadline = true;
    }
    after = co_await s.count(select<User>());
  }());
  CHECK(deadline);
  CHECK(seen == 10);
  CHECK(after == 20);
  CHECK_FALSE(s.in_transaction());
}
