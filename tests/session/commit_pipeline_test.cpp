// commit() sends COMMIT in the same pipeline as the flush's last writes (and BEGIN in front of
// them when the transaction has not begun): a one-row unit of work is one round trip. Each way
// that pipeline can fail has the outcome commit() documents, checked here against what the
// server holds afterwards.
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <thread>
#include <tuple>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

using test::new_todo;
using test::new_user;

namespace {

std::int64_t users_named(test::SessionFixture& fx, std::string_view email) {
  return fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = $1", email);
}

}  // namespace

TEST_CASE("commit of new objects is one round trip, keys and defaults written back",
          "[session][commit]") {
  test::SessionFixture fx;
  auto s = fx.session();
  SECTION("one statement: alone, in autocommit") {
    auto user = new_user(s, "one@example.com");
    auto trips = s.round_trips();
    auto statements = s.statements_executed();
    s.commit();
    CHECK(s.round_trips() - trips == 1);
    CHECK(s.statements_executed() - statements == 1);  // INSERT ... RETURNING, no BEGIN/COMMIT
    CHECK_FALSE(s.in_transaction());
    CHECK(user->id == fx.db.scalar<std::int32_t>("SELECT id FROM users WHERE email = $1",
                                                 std::string_view("one@example.com")));
    CHECK(user->created_at ==
          fx.db.scalar<Timestamp>("SELECT created_at FROM users WHERE id = $1", user->id));
    // Several rows of one table are one multi-row INSERT: alone too.
    auto a = new_user(s, "a@example.com");
    auto b = new_user(s, "b@example.com");
    trips = s.round_trips();
    s.commit();
    CHECK(s.round_trips() - trips == 1);
    CHECK(fx.count("users") == 3);
    for (const auto& u : {a, b})
      CHECK(u->id ==
            fx.db.scalar<std::int32_t>("SELECT id FROM users WHERE email = $1", u->email));
  }
  SECTION("several statements: BEGIN, the INSERTs and COMMIT in one pipeline") {
    auto owner = new_user(s, "owner@example.com");
    s.commit();
    auto user = new_user(s, "two@example.com");
    auto todo = new_todo(s, owner->id, "for the owner");  // its parent has its key already
    auto trips = s.round_trips();
    auto statements = s.statements_executed();
    s.commit();
    CHECK(s.round_trips() - trips == 1);
    CHECK(s.statements_executed() - statements == 4);
    CHECK_FALSE(s.in_transaction());
    CHECK(user->id == fx.db.scalar<std::int32_t>("SELECT id FROM users WHERE email = $1",
                                                 std::string_view("two@example.com")));
    CHECK(todo->id == fx.db.scalar<std::int32_t>("SELECT id FROM todos WHERE user_id = $1",
                                                 owner->id));
  }
  SECTION("a child waiting for its parent's key: two batches, COMMIT with the second") {
    auto user = new_user(s, "parent@example.com");
    auto todo = std::make_shared<Todo>();
    todo->title = "child";
    user->todos.add(todo);
    s.commit();
    CHECK_FALSE(s.in_transaction());
    CHECK(todo->user_id == user->id);
    CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE title = 'child'") ==
          user->id);
  }
}

TEST_CASE("a one-row INSERT's text is kept per set of defaulted columns, values its own",
          "[session][commit]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(test::recording(sent));
  const auto owner = fx.insert_user("owner@example.com");
  struct Case {
    std::int32_t id;  // 0: the serial's default (created_at and updated_at always are)
    std::string title;
    std::optional<std::string> description;
    TodoStatus status;
  };
  const std::vector<Case> cases = {
      {0, "first", std::nullopt, TodoStatus::pending},
      {0, "second", "described", TodoStatus::completed},
      {0, "third", std::nullopt, TodoStatus::pending},
      {900001, "fourth", "explicit key", TodoStatus::archived},
      {0, "fifth", std::nullopt, TodoStatus::completed},
      {0, "sixth", "again", TodoStatus::pending},
  };
  std::vector<std::string> texts;
  std::vector<std::int32_t> ids;
  for (const auto& c : cases) {
    auto s = fx.session();  // a fresh session each time, as a request handler would
    Todo t;
    t.id = c.id;
    t.title = c.title;
    t.description = c.description;
    t.status = c.status;
    t.user_id = owner;
    sent.clear();
    auto added = s.add(std::move(t));
    s.commit();
    REQUIRE(sent.size() == 1);
    texts.push_back(sent.front());
    ids.push_back(added->id);
  }
  // The same columns left to defaults: the same text; an explicit key: another.
  for (std::size_t i : {1, 2, 4, 5}) CHECK(texts[i] == texts[0]);
  CHECK(texts[0].find("VALUES (DEFAULT, $1,") != std::string::npos);
  CHECK(texts[3].find("VALUES ($1, $2,") != std::string::npos);
  CHECK(ids[3] == 900001);
  // Another thread renders its own text; its row holds its own values too.
  std::int32_t other_id = 0;
  std::exception_ptr failed;
  std::thread([&] {
    try {
      auto s = fx.session();
      Todo t;
      t.title = "from another thread";
      t.status = TodoStatus::archived;
      t.user_id = owner;
      auto added = s.add(std::move(t));
      s.commit();
      other_id = added->id;
    } catch (...) {
      failed = std::current_exception();
    }
  }).join();
  if (failed) std::rethrow_exception(failed);
  CHECK(other_id > 0);
  CHECK(fx.db.scalar<std::string>("SELECT title || '/' || status::text FROM todos WHERE id = $1",
                                  other_id) == "from another thread/archived");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].title);
    auto [title, description, status] =
        fx.db.conn()
            .query<std::tuple<std::string, std::optional<std::string>, std::string>>(
                "SELECT title, description, status::text FROM todos WHERE id = $1", ids[i])
            .at(0);
    CHECK(title == cases[i].title);
    CHECK(description == cases[i].description);
    const char* expected[] = {"pending", "completed", "archived"};
    CHECK(status == expected[static_cast<int>(cases[i].status)]);
  }
}

TEST_CASE("an UPDATE's row count is read before COMMIT is sent: a stale row commits nothing",
          "[session][commit]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto known = new_user(s, "known@example.com");
  s.commit();
  fx.db.conn().exec("DELETE FROM users WHERE id = $1", known->id);  // elsewhere
  known->email = "changed@example.com";
  new_user(s, "new@example.com");  // INSERTed in the same batch as the UPDATE
  CHECK_THROWS_AS(s.commit(), StaleDataError);
  CHECK_FALSE(s.in_transaction());
  CHECK(users_named(fx, "new@example.com") == 0);
  CHECK(fx.count("users") == 0);
}

TEST_CASE("a statement failing in the commit pipeline: its error, nothing committed",
          "[session][commit]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_user(s, "taken@example.com");
  s.commit();
  new_user(s, "fresh@example.com");
  new_user(s, "taken@example.com");  // unique violation: the rest and COMMIT are skipped
  CHECK_THROWS_AS(s.commit(), UniqueViolation);
  CHECK_FALSE(s.in_transaction());
  CHECK(users_named(fx, "fresh@example.com") == 0);
  CHECK(fx.count("users") == 1);
  CHECK(fx.engine.pool().stats().checked_out == 0);
  // The session goes on.
  new_user(s, "later@example.com");
  s.commit();
  CHECK(users_named(fx, "later@example.com") == 1);
}

TEST_CASE("a deferred constraint failing at the pipelined COMMIT: its error, nothing committed",
          "[session][commit]") {
  test::SessionFixture fx;
  fx.redefine_todo_user_fk("ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED");
  auto s = fx.session();
  new_user(s, "owner@example.com");
  new_todo(s, 999999, "orphan");  // no such user: checked at COMMIT
  auto trips = s.round_trips();
  CHECK_THROWS_AS(s.commit(), ForeignKeyViolation);
  CHECK(s.round_trips() - trips == 2);  // the pipeline, then ROLLBACK
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);
  // Alone in autocommit, the deferred check runs when the statement's own transaction ends.
  new_todo(s, 999999, "orphan");
  CHECK_THROWS_AS(s.commit(), ForeignKeyViolation);
  CHECK(fx.count("todos") == 0);
  new_user(s, "owner@example.com");
  s.commit();
  CHECK(fx.count("users") == 1);
}

TEST_CASE("the connection lost while the commit pipeline runs: TransactionInDoubt",
          "[session][commit]") {
  test::SessionFixture fx;
  // Every INSERT into users sleeps, so that the pipeline is still running when its backend is
  // terminated from another connection.
  fx.db.conn().execute_script(
      "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$; "
      "CREATE TRIGGER slow_insert BEFORE INSERT ON users FOR EACH ROW "
      "EXECUTE FUNCTION slow_insert()");
  auto s = fx.session();
  new_user(s, "lost@example.com");
  auto killer = std::async(std::launch::async, [&] {
    Connection other(fx.db.conninfo());
    for (int i = 0; i < 200; ++i) {  // up to 4 s
      auto pids = other.query<std::int32_t>(
          "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT%' "
          "AND pid <> pg_backend_pid()");
      if (!pids.empty()) {
        other.exec("SELECT pg_terminate_backend($1)", pids.front());
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  });
  try {
    s.commit();
    FAIL("expected TransactionInDoubt");
  } catch (const TransactionInDoubt& e) {
    CHECK(std::string(e.what()).find("may or may not have been committed") != std::string::npos);
  }
  REQUIRE(killer.get());
  CHECK_FALSE(s.in_transaction());
  // The INSERT was cut before COMMIT ran: nothing is stored, and the session goes on.
  CHECK(users_named(fx, "lost@example.com") == 0);
  fx.db.conn().execute_script("DROP TRIGGER slow_insert ON users");
  new_user(s, "after@example.com");
  s.commit();
  CHECK(users_named(fx, "after@example.com") == 1);
}

TEST_CASE("commit() inside a savepoint or after a failed statement keeps its documented outcome",
          "[session][commit]") {
  test::SessionFixture fx;
  auto s = fx.session();
  SECTION("a caught error aborted the transaction: TransactionRolledBack, nothing committed") {
    new_user(s, "before@example.com");
    s.flush();
    CHECK_THROWS_AS(s.execute_sql("SELECT 1/0"), DataError);
    new_user(s, "pending@example.com");
    CHECK_THROWS_AS(s.commit(), TransactionRolledBack);
    CHECK_FALSE(s.in_transaction());
    CHECK(fx.count("users") == 0);
  }
  SECTION("an open savepoint: the flush and COMMIT as before, everything committed") {
    new_user(s, "outer@example.com");
    auto nested = s.begin_nested();
    new_user(s, "inner@example.com");
    s.commit();
    CHECK(fx.count("users") == 2);
  }
}

TEST_CASE("an INSERT returning fewer rows than objects is an error, never a misassigned row",
          "[session][commit]") {
  test::SessionFixture fx;
  // A trigger that drops some rows: RETURNING then has fewer rows than the flush had objects.
  fx.db.conn().execute_script(
      "CREATE FUNCTION skip_some() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN IF NEW.email LIKE 'skip%' THEN RETURN NULL; END IF; RETURN NEW; END $$; "
      "CREATE TRIGGER skip_some BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION skip_some()");
  auto s = fx.session();
  SECTION("flush(): the flush fails and nothing is committed") {
    auto a = new_user(s, "a@example.com");
    new_user(s, "skip@example.com");
    new_user(s, "c@example.com");
    CHECK_THROWS_AS(s.flush(), InterfaceError);
    CHECK_FALSE(s.in_transaction());
    CHECK(a->id == 0);  // nothing written back
    CHECK(fx.count("users") == 0);
  }
  SECTION("commit(): COMMIT went with the INSERT, and the error says it committed") {
    auto a = new_user(s, "a@example.com");
    new_user(s, "skip@example.com");
    new_user(s, "c@example.com");
    try {
      s.commit();
      FAIL("expected InterfaceError");
    } catch (const InterfaceError& e) {
      CHECK(std::string(e.what()).find("the transaction was committed") != std::string::npos);
      CHECK(std::string(e.what()).find("2 rows for 3 objects") != std::string::npos);
    }
    CHECK_FALSE(s.in_transaction());
    CHECK(a->id == 0);  // not matched to another object's row
    CHECK(fx.count("users") == 2);
  }
}
