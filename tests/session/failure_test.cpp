// How a session behaves when the server refuses something (a COMMIT, a statement of a flush, a
// savepoint), when a flush finds a row gone or changed elsewhere, and when it is misused from two
// threads: what the server holds afterwards, and the typed error the caller sees.
#include <catch2/catch.hpp>

#include <cmath>
#include <future>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

using test::new_todo;
using test::new_user;

namespace failure {

// Optimistic locking: every UPDATE checks and bumps "version".
struct Document : pgorm::Model<Document, pgorm::Versioned, pgorm::TableName<"failure_documents">> {
  std::string title;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Document::title>());
};

}  // namespace failure

namespace {

std::vector<std::string> stored_emails(test::SessionFixture& fx) {
  return fx.db.conn().query<std::string>("SELECT email FROM users ORDER BY email");
}

}  // namespace

// ---- a failed COMMIT or flush ----

TEST_CASE("a COMMIT the server refuses leaves the session as rollback() does",
          "[session][failure]") {
  test::SessionFixture fx;
  fx.redefine_todo_user_fk("ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED");
  auto s = fx.session();
  new_todo(s, 999999, "orphan");  // no such user: the deferred check runs at COMMIT
  REQUIRE_NOTHROW(s.flush());
  CHECK_THROWS_AS(s.commit(), ForeignKeyViolation);
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.engine.pool().stats().checked_out == 0);
  CHECK(fx.count("todos") == 0);

  // The next unit of work runs in a transaction of its own, which rollback() discards.
  new_user(s, "discarded@example.com");
  s.flush();
  CHECK(s.in_transaction());
  s.rollback();
  CHECK(fx.count("users") == 0);

  new_user(s, "kept@example.com");
  s.commit();
  CHECK(stored_emails(fx) == std::vector<std::string>{"kept@example.com"});
}

TEST_CASE("a flush that fails on its second table writes nothing and leaves the session usable",
          "[session][failure]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = new_user(s, "owner@example.com");
  auto todo = std::make_shared<Todo>();
  todo->title = std::string(300, 'x');  // varchar(255)
  user->todos.add(todo);
  CHECK_THROWS_AS(s.flush(), DataError);
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);

  new_user(s, "later@example.com");
  s.commit();
  CHECK(stored_emails(fx) == std::vector<std::string>{"later@example.com"});
  CHECK(fx.count("todos") == 0);
}

TEST_CASE("commit of a transaction that a caught error aborted throws TransactionRolledBack",
          "[session][failure]") {
  test::SessionFixture fx;
  auto s = fx.session();
  CHECK(s.execute_sql("INSERT INTO users (email) VALUES ($1)", "good@example.com") == 1);
  CHECK_THROWS_AS(s.execute_sql("INSERT INTO users (email) VALUES (NULL)"), NotNullViolation);
  CHECK_THROWS_AS(s.commit(), TransactionRolledBack);
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("users") == 0);

  new_user(s, "after@example.com");
  s.commit();
  CHECK(stored_emails(fx) == std::vector<std::string>{"after@example.com"});
}

// ---- savepoints ----

TEST_CASE("a failed flush inside a savepoint rolls back to the savepoint only",
          "[session][failure]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_user(s, "one@example.com");
  s.flush();
  {
    auto nested = s.begin_nested();
    new_user(s, "one@example.com");  // a duplicate email
    CHECK_THROWS_AS(nested.commit(), UniqueViolation);
  }
  CHECK(s.in_transaction());
  new_user(s, "three@example.com");
  s.commit();
  CHECK(stored_emails(fx) == std::vector<std::string>{"one@example.com", "three@example.com"});
}

TEST_CASE("an object changed inside a savepoint that is rolled back gets its savepoint values back",
          "[session][failure]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("before@example.com");
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  auto user = s.get<User>(uid);
  REQUIRE(user);
  user->email = "savepoint@example.com";

  SECTION("rolled back by the caller") {
    auto nested = s.begin_nested();  // flushes: the savepoint sees savepoint@
    user->email = "inside@example.com";
    s.flush();
    nested.rollback();
  }
  SECTION("rolled back by a failed flush") {
    auto nested = s.begin_nested();
    user->email = "inside@example.com";
    s.flush();
    new_user(s, "taken@example.com");
    CHECK_THROWS_AS(nested.commit(), UniqueViolation);
  }
  CHECK(user->email == "savepoint@example.com");
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "savepoint@example.com");
  CHECK(fx.count("users") == 2);
}

// ---- raw SQL ----

TEST_CASE("raw SQL sent with query() runs inside the session's transaction", "[session][failure]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto ids =
      s.query<std::int32_t>("INSERT INTO users (email) VALUES ($1) RETURNING id", "q@example.com");
  REQUIRE(ids.size() == 1);
  s.rollback();
  CHECK(fx.count("users") == 0);
}

// ---- dirty checking and isolation ----

TEST_CASE("a NaN read back from the database does not make an object dirty", "[session][failure]") {
  test::SessionFixture fx;
  Metadata::of<Sample>().create_all(fx.db.conn());
  Sample row;
  row.amount = Decimal("0");
  row.real = std::numeric_limits<double>::quiet_NaN();
  row.single = std::numeric_limits<float>::quiet_NaN();
  auto id = test::insert_returning(fx.db.conn(), row).id;
  auto row_version = [&] {
    return fx.db.scalar<std::string>("SELECT xmin::text FROM samples WHERE id = $1", id);
  };
  auto written = row_version();

  auto s = fx.session();
  auto sample = s.get<Sample>(id);
  REQUIRE(sample);
  REQUIRE(std::isnan(sample->real));
  auto statements = s.statements_executed();
  s.commit();
  CHECK(s.statements_executed() == statements);  // no BEGIN, UPDATE or COMMIT
  CHECK(row_version() == written);               // the row was not rewritten
}

TEST_CASE("begin() keeps one snapshot when the connection defaults to repeatable read",
          "[session][failure]") {
  test::SessionFixture fx;
  // Only this engine's connections default to REPEATABLE READ.
  Url url = Url::parse(fx.db.conninfo());
  url.set_param("options", url.param("options").value_or("") +
                               " -c default_transaction_isolation=repeatable\\ read");
  Engine engine(url);
  fx.insert_user("first@example.com");
  REQUIRE(engine.connect()->query<std::string>("SHOW default_transaction_isolation") ==
          std::vector<std::string>{"repeatable read"});

  Session s(engine);
  auto tx = s.begin();
  auto before = s.count(select<User>());
  fx.insert_user("second@example.com");  // committed by another connection
  auto after = s.count(select<User>());
  CHECK(before == 1);
  CHECK(after == before);
  tx.commit();
  CHECK(s.count(select<User>()) == 2);
}

// ---- stale rows and optimistic locking ----

TEST_CASE("a flush UPDATE of a row deleted elsewhere throws StaleDataError naming the table",
          "[session][failure]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("gone@example.com");
  auto s = fx.session();
  auto user = s.get<User>(uid);
  REQUIRE(user);
  fx.db.conn().exec("DELETE FROM users WHERE id = $1", uid);
  user->email = "changed@example.com";
  new_user(s, "bystander@example.com");  // in the same flush: must not be written either
  try {
    s.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "users");
    CHECK(std::string(e.what()).find("users") != std::string::npos);
  }
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("users") == 0);
}

TEST_CASE("a stale UPDATE is the error reported when a later statement of its batch also fails",
          "[session][failure]") {
  // The UPDATE of a todo deleted elsewhere and the association row that tags it go out in one
  // pipeline; the association row then fails its foreign key. Statement by statement, the
  // UPDATE's empty result would have stopped the flush first: that is the error to see.
  test::SessionFixture fx;
  auto uid = fx.insert_user("stale@example.com");
  auto tid = fx.insert_todo(uid, "deleted elsewhere");
  auto cid = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('home', 'h') RETURNING id");
  auto s = fx.session();
  auto todos =
      s.execute(select<Todo>().where(col<&Todo::id> == tid).options(selectin(&Todo::categories)));
  REQUIRE(todos.size() == 1);
  auto category = s.get<Category>(cid);
  REQUIRE(category);
  fx.db.conn().exec("DELETE FROM todos WHERE id = $1", tid);
  todos[0]->title = "changed";
  todos[0]->categories.add(category);
  try {
    s.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "todos");
  }
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("todos") == 0);
  CHECK(fx.count("todo_categories") == 0);
}

TEST_CASE("a flush DELETE of a row deleted elsewhere throws StaleDataError naming the table",
          "[session][failure]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("gone@example.com");
  auto tid = fx.insert_todo(uid, "gone too");
  auto s = fx.session();

  SECTION("a hard delete") {
    auto user = s.get<User>(uid);
    REQUIRE(user);
    fx.db.conn().exec("DELETE FROM users WHERE id = $1", uid);
    s.remove(user);
    new_user(s, "bystander@example.com");
    try {
      s.commit();
      FAIL("expected a StaleDataError");
    } catch (const StaleDataError& e) {
      CHECK(e.table() == "users");
    }
    CHECK(fx.count("users") == 0);
  }
  SECTION("a soft delete") {
    auto todo = s.get<Todo>(tid);
    REQUIRE(todo);
    fx.db.conn().exec("DELETE FROM todos WHERE id = $1", tid);
    s.remove(todo);
    new_user(s, "bystander@example.com");
    try {
      s.commit();
      FAIL("expected a StaleDataError");
    } catch (const StaleDataError& e) {
      CHECK(e.table() == "todos");
    }
    CHECK(fx.count("todos") == 0);
    CHECK(stored_emails(fx) == std::vector<std::string>{"gone@example.com"});
  }
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("a versioned row changed by another session since it was read throws StaleDataError",
          "[session][failure]") {
  using failure::Document;
  test::SessionFixture fx;
  Metadata::of<Document>().create_all(fx.db.conn());
  auto stored_title = [&](std::int32_t id) {
    return fx.db.scalar<std::string>("SELECT title FROM failure_documents WHERE id = $1", id);
  };
  auto stored_version = [&](std::int32_t id) {
    return fx.db.scalar<std::int32_t>("SELECT version FROM failure_documents WHERE id = $1", id);
  };
  std::int32_t id = 0;
  {
    auto s = fx.session();
    Document d;
    d.title = "draft";
    auto doc = s.add(std::move(d));
    s.commit();
    id = doc->id;
    CHECK(doc->version == 1);
  }
  CHECK(stored_title(id) == "draft");
  CHECK(stored_version(id) == 1);

  auto first = fx.session();
  auto second = fx.session();
  auto a = first.get<Document>(id);
  auto b = second.get<Document>(id);
  REQUIRE(a);
  REQUIRE(b);
  a->title = "first";
  b->title = "second";
  first.commit();
  CHECK(a->version == 2);
  CHECK(stored_title(id) == "first");
  CHECK(stored_version(id) == 2);

  try {
    second.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "failure_documents");
  }
  CHECK(stored_title(id) == "first");
  CHECK(stored_version(id) == 2);
}

TEST_CASE("a session's later updates of the same columns still check each row's version",
          "[session][failure]") {
  using failure::Document;
  test::SessionFixture fx;
  Metadata::of<Document>().create_all(fx.db.conn());
  auto stored = [&]() {
    return fx.db.conn().query<std::tuple<std::int32_t, std::string, std::int32_t>>(
        "SELECT id, title, version FROM failure_documents ORDER BY id");
  };
  using Row = std::tuple<std::int32_t, std::string, std::int32_t>;
  auto s = fx.session();
  auto a = s.add(Document{});
  auto b = s.add(Document{});
  a->title = "a";
  b->title = "b";
  s.commit();
  a->title = "a2";  // the same column of both rows: one UPDATE text, two rows' keys and versions
  b->title = "b2";
  s.commit();
  CHECK(a->version == 2);
  CHECK(b->version == 2);
  REQUIRE(stored() == std::vector<Row>{{a->id, "a2", 2}, {b->id, "b2", 2}});

  // Another session bumps b: this session's next update of b (its kept text) must miss it.
  fx.db.conn().exec("UPDATE failure_documents SET title = 'elsewhere', version = 3 WHERE id = $1",
                    b->id);
  a->title = "a3";
  b->title = "b3";
  try {
    s.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "failure_documents");
  }
  CHECK(stored() == std::vector<Row>{{a->id, "a2", 2}, {b->id, "elsewhere", 3}});
}

// ---- misuse ----

TEST_CASE("using one session from two threads at once throws InterfaceError instead of hanging",
          "[session][failure][concurrency]") {
  test::SessionFixture fx;
  // A name of its own, to find this session's statements in pg_stat_activity.
  EngineOptions options;
  options.application_name = fx.db.name();
  Engine engine(fx.db.conninfo(), options);
  Session s(engine);
  auto outcome = [&s](std::string_view sql) {
    return [&s, sql]() -> std::string {
      try {
        auto rows = s.query<int>(sql);
        return rows.size() == 1 ? fmt::format("row {}", rows[0]) : "not one row";
      } catch (const InterfaceError&) {
        return "InterfaceError";
      } catch (const std::exception& e) {
        return e.what();
      }
    };
  };
  // If the session mixes up the two threads' statements, a thread can wait forever for a result
  // the other one took: end this engine's backends after a generous deadline, so that the test
  // fails instead of hanging.
  auto finish = [&](std::future<std::string>& thread) {
    if (thread.wait_for(30s) != std::future_status::ready)
      fx.db.conn().exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
          fx.db.name());
    return thread.get();
  };

  auto first = std::async(std::launch::async, outcome("SELECT 7 FROM pg_sleep(1)"));
  bool sleeping = false;
  for (int attempt = 0; attempt < 500 && !sleeping; ++attempt) {
    sleeping = fx.db.scalar<std::int64_t>(
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                   "AND state = 'active' AND query LIKE '%pg_sleep%'",
                   fx.db.name()) > 0;
    if (!sleeping) std::this_thread::sleep_for(10ms);
  }
  CHECK(sleeping);
  auto second = std::async(std::launch::async, outcome("SELECT 1"));
  CHECK(finish(second) == "InterfaceError");
  CHECK(finish(first) == "row 7");
  CHECK(s.query<int>("SELECT 2") == std::vector<int>{2});  // usable again from one thread
}
