// The sync session's behaviour through AsyncSession (mirrors tests/session and tests/query), plus
// what only the async layer does: one round trip per flush, gather(), pipeline error isolation.
#include <catch2/catch.hpp>

#include <set>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;
using asio::awaitable;

using test::new_todo;
using test::new_user;

TEST_CASE("async: commit inserts added objects and writes generated values back", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  auto user = new_user(s, "alice@example.com");
  fx.run([&]() -> awaitable<void> { co_await s.commit(); }());
  CHECK(user->id > 0);
  CHECK(user->created_at == user->updated_at);
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", user->id) ==
        "alice@example.com");
  CHECK(fx.db.scalar<Timestamp>("SELECT created_at FROM users WHERE id = $1", user->id) ==
        user->created_at);
}

TEST_CASE("async: a flush of many objects of several models is one round trip", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  std::vector<User> users(100);
  for (int i = 0; i < 100; ++i) users[i].email = fmt::format("user{}@example.com", i);
  auto tracked = s.add_all(users);
  Project p;
  p.name = "apollo";
  Task t;
  t.title = "launch";
  p.id = Uuid::v7();
  t.project_id = p.id;
  s.add(t);  // the child first: the flush orders parents before children
  s.add(p);
  fx.run([&]() -> awaitable<void> { co_await s.commit(); }());
  // BEGIN, INSERT users, INSERT projects, INSERT tasks, COMMIT: one segment, one write.
  CHECK(s.statements_executed() == 5);
  CHECK(s.round_trips() == 1);
  CHECK(fx.count("users") == 100);
  CHECK(fx.count("tasks") == 1);
  std::set<std::int32_t> ids;
  for (const auto& u : tracked) ids.insert(u->id);
  CHECK(ids.size() == 100);
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", tracked[42]->id) ==
        "user42@example.com");
}

TEST_CASE("async: get serves an object already loaded from the identity map", "[async]") {
  test::AsyncFixture fx;
  auto id = fx.insert_user("bob@example.com");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto a = co_await s.get<User>(id);
    REQUIRE(a);
    auto statements = s.statements_executed();
    auto b = co_await s.get<User>(id, Timeout{1s});
    CHECK(a == b);
    CHECK(s.statements_executed() == statements);
    auto listed = co_await s.execute(select<User>().where(col<&User::id> == id));
    REQUIRE(listed.size() == 1);
    CHECK(listed[0] == a);
    auto missing = co_await s.get<User>(id + 1000);
    CHECK_FALSE(missing);
  }());
}

TEST_CASE("async: dirty checking sends only the changed columns", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("carol@example.com");
  auto tid = fx.insert_todo(uid, "draft");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto todo = co_await s.get<Todo>(tid);
    REQUIRE(todo);
    todo->title = "final";
    fx.db.conn().exec("UPDATE todos SET description = 'from elsewhere' WHERE id = $1", tid);
    auto before = todo->updated_at;
    co_await s.commit();
    CHECK(todo->updated_at > before);
  }());
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", tid) == "final");
  CHECK(fx.db.scalar<std::string>("SELECT description FROM todos WHERE id = $1", tid) ==
        "from elsewhere");
}

TEST_CASE("async: rollback discards pending and flushed work", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    new_user(s, "gina@example.com");
    co_await s.flush();
    CHECK(s.in_transaction());
    new_user(s, "hank@example.com");
    co_await s.rollback();
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 0);
  CHECK(fx.async_engine.pool().stats().checked_out == 0);
}

TEST_CASE("async: remove soft-deletes SoftDelete models and deletes others", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("ivy@example.com");
  auto tid = fx.insert_todo(uid, "old");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto todo = co_await s.get<Todo>(tid);
    s.remove(todo);
    co_await s.commit();
    CHECK(todo->is_deleted());
    auto gone = co_await s.get<Todo>(tid);
    CHECK_FALSE(gone);
    s.remove(co_await s.get<User>(uid));
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);  // the user's delete cascaded to the soft-deleted todo
}

TEST_CASE("async: refresh reloads the row", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("jack@example.com");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto user = co_await s.get<User>(uid);
    fx.db.conn().exec("UPDATE users SET email = 'jack@new.example.com' WHERE id = $1", uid);
    co_await s.refresh(user);
    CHECK(user->email == "jack@new.example.com");
    auto statements = s.statements_executed();
    co_await s.commit();  // nothing changed after the refresh: no UPDATE
    CHECK(s.statements_executed() == statements);
  }());
}

TEST_CASE("async: expire_on_commit=false keeps loaded objects after commit", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("kim@example.com");
  auto make = async_sessionmaker(fx.async_engine, {.autoflush = false, .expire_on_commit = false});
  auto s = make();
  fx.run([&]() -> awaitable<void> {
    auto user = co_await s.get<User>(uid);
    user->email = "kim@new.example.com";
    co_await s.commit();
    auto statements = s.statements_executed();
    auto again = co_await s.get<User>(uid);
    CHECK(again == user);  // still in the identity map
    CHECK(s.statements_executed() == statements);
  }());
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "kim@new.example.com");
}

TEST_CASE("async: a unique violation at flush names the constraint and writes nothing", "[async]") {
  test::AsyncFixture fx;
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    new_user(s, "free@example.com");
    new_user(s, "taken@example.com");
    try {
      co_await s.commit();
      FAIL("expected a UniqueViolation");
    } catch (const UniqueViolation& e) {
      CHECK(e.sqlstate() == "23505");
      CHECK(e.constraint() == "uq_users_email");
      CHECK(e.statement().find("INSERT INTO \"users\"") == 0);
    }
    CHECK_FALSE(s.in_transaction());
    new_user(s, "after@example.com");  // usable after the failure
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 2);
}

TEST_CASE("async: foreign key, check and data errors keep their classes", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    new_todo(s, 999, "orphan");
    bool fk = co_await test::throws_as<ForeignKeyViolation>(s.commit());
    CHECK(fk);
    new_user(s, std::string(300, 'x'));
    bool data = co_await test::throws_as<DataError>(s.commit());
    CHECK(data);
    Project p;
    p.name = "x";
    auto project = s.add(p);
    Task t;
    t.project_id = project->id;
    t.points = -1;
    s.add(t);
    try {
      co_await s.commit();
      FAIL("expected a CheckViolation");
    } catch (const CheckViolation& e) {
      CHECK(e.constraint() == "ck_tasks_points_not_negative");
    }
  }());
  CHECK(fx.count("todos") == 0);
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("projects") == 0);
}

TEST_CASE("async: queries filter, page, count and aggregate on the server", "[async]") {
  test::AsyncFixture fx;
  auto alice = fx.insert_user("alice@example.com");
  for (int i = 0; i < 10; ++i)
    fx.insert_todo(alice, fmt::format("todo {:02}", i), i % 3 == 0 ? "completed" : "pending");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto page = co_await s.execute(select<Todo>().order_by(col<&Todo::title>).offset(2).limit(3),
                                   Timeout{5s});
    REQUIRE(page.size() == 3);
    CHECK(page[0]->title == "todo 02");
    CHECK(page[2]->title == "todo 04");
    auto completed =
        co_await s.count(select<Todo>().where(col<&Todo::status> == TodoStatus::completed));
    CHECK(completed == 4);
    bool exists = co_await s.exists(select<Todo>().where(col<&Todo::title> == "todo 09"));
    CHECK(exists);
    auto first = co_await s.first(select<Todo>().order_by(col<&Todo::title>.desc()));
    REQUIRE(first);
    CHECK(first->title == "todo 09");
    bool several = co_await test::throws_as<MultipleResultsFound>(s.one(select<Todo>()));
    CHECK(several);
    auto none = co_await s.one_or_none(select<Todo>().where(col<&Todo::title> == "none"));
    CHECK_FALSE(none);
    auto titles = co_await s.values(select(col<&Todo::title>).order_by(col<&Todo::title>).limit(2));
    CHECK(titles == std::vector<std::string>{"todo 00", "todo 01"});
    auto n = co_await s.scalar(select(count()).from<Todo>());
    CHECK(n == 10);
    auto rows = co_await s.query<std::tuple<std::string, std::int64_t>>(
        "SELECT email, (SELECT count(*) FROM todos) FROM users WHERE id = $1", alice, Timeout{1s});
    REQUIRE(rows.size() == 1);
    CHECK(std::get<1>(rows[0]) == 10);
  }());
}

TEST_CASE("async: bulk update, delete and insert returning", "[async]") {
  test::AsyncFixture fx;
  auto alice = fx.insert_user("alice@example.com");
  fx.insert_todo(alice, "a");
  fx.insert_todo(alice, "b");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto changed = co_await s.execute(update<Todo>()
                                          .set(col<&Todo::status>, TodoStatus::archived)
                                          .where(col<&Todo::title> == "a"));
    CHECK(changed == 1);
    auto deleted = co_await s.execute(delete_<Todo>().where(col<&Todo::title> == "b"));
    CHECK(deleted == 1);
    Todo t;
    t.title = "c";
    t.user_id = alice;
    auto inserted = co_await s.execute(insert<Todo>().value(t).returning());
    REQUIRE(inserted.size() == 1);
    CHECK(inserted[0].id > 0);
    co_await s.commit();
  }());
  CHECK(fx.db.scalar<std::string>("SELECT status::text FROM todos WHERE title = 'a'") ==
        "archived");
  CHECK(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE title = 'b'"));
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE title = 'c'") == 1);
}

TEST_CASE("async: gather sends independent queries in one round trip", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("gus@example.com");
  auto tid = fx.insert_todo(uid, "gathered");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    co_await s.get<User>(uid);  // the connection is checked out and warm
    s.expire_all();
    auto before = s.round_trips();
    auto [todo, user, n] =
        co_await gather(s.get<Todo>(tid), s.get<User>(uid), s.count(select<Todo>()));
    CHECK(s.round_trips() - before == 1);
    REQUIRE(todo);
    REQUIRE(user);
    CHECK(todo->title == "gathered");
    CHECK(user->email == "gus@example.com");
    CHECK(n == 1);
  }());
}

TEST_CASE("async: a failing statement in a gather fails alone", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("iso@example.com");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto good = [&]() -> awaitable<std::string> {
      auto u = co_await s.get<User>(uid);
      co_return u->email;
    };
    // A read pgorm generated runs outside a transaction and shares the others' Sync (raw SQL
    // would run inside the transaction, which its failure would abort for everyone).
    auto bad = [&]() -> awaitable<std::string> {
      try {
        co_await s.count(select<User>().where(raw<bool>("1/0 = 1")));
        co_return "no error";
      } catch (const DataError& e) {
        co_return e.sqlstate();
      }
    };
    auto [a, b, c] = co_await gather(good(), bad(), s.count(select<User>()));
    CHECK(a == "iso@example.com");
    CHECK(b == "22012");  // division by zero
    CHECK(c == 1);
  }());
}

TEST_CASE("async: an error inside a transaction's pipeline skips the rest and rollback recovers",
          "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    co_await s.begin();
    std::vector<PipelineStatement> statements;
    statements.push_back({"INSERT INTO users (email) VALUES ('one@example.com')", {}, false});
    statements.push_back({"INSERT INTO users (email) VALUES (NULL)", {}, false});
    statements.push_back({"INSERT INTO users (email) VALUES ('three@example.com')", {}, false});
    auto outcomes = co_await s.run_batch(std::move(statements), true, std::nullopt);
    REQUIRE(outcomes.size() == 3);
    CHECK(outcomes[0].ok());
    CHECK_THROWS_AS(outcomes[1].get(), NotNullViolation);
    // A statement the server skipped reports the failure that made it skip (its class and
    // SQLSTATE), not a bare "pipeline aborted".
    CHECK_THROWS_AS(outcomes[2].get(), NotNullViolation);
    // The transaction is failed on the server after the Sync: everything fails until ROLLBACK.
    bool failed_transaction = co_await test::throws_as<ProgrammingError>(
        s.execute_sql("INSERT INTO users (email) VALUES ('x@example.com')"));
    CHECK(failed_transaction);  // 25P02 in_failed_sql_transaction
    co_await s.rollback();
    new_user(s, "after@example.com");
    co_await s.commit();
  }());
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"after@example.com"});
}

TEST_CASE("async: a session destroyed inside a transaction leaves nothing behind", "[async]") {
  test::AsyncFixture fx;
  {
    auto s = fx.session();
    fx.run([&]() -> awaitable<void> {
      new_user(s, "frank@example.com");
      co_await s.flush();
    }());
  }
  fx.io.restart();
  fx.io.run();  // the pool's ROLLBACK on the returned connection
  CHECK(fx.count("users") == 0);
  auto stats = fx.async_engine.pool().stats();
  CHECK(stats.checked_out == 0);
  CHECK(stats.idle == 1);
  CHECK(stats.invalidated == 0);
}

TEST_CASE("async: reads sharing one Sync still fail alone", "[async]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("shared@example.com");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto good = [&]() -> awaitable<std::string> {
      s.expire_all();
      auto u = co_await s.get<User>(uid);
      co_return u->email;
    };
    auto bad = [&]() -> awaitable<std::string> {
      try {
        // (A named statement: GCC 12 mishandles aggregate temporaries in a co_await operand.)
        query::Statement statement{"SELECT 1/0", {}};
        co_await s.run(std::move(statement), false, std::nullopt, true);
        co_return "no error";
      } catch (const DataError& e) {
        co_return e.sqlstate();
      }
    };
    for (int round = 0; round < 2; ++round) {  // the second round runs on prepared statements
      auto before = s.statements_executed();
      auto [a, b, c] = co_await gather(good(), bad(), s.count(select<User>()));
      CHECK(a == "shared@example.com");
      CHECK(b == "22012");  // division by zero
      CHECK(c == 1);        // skipped by the server after the error, sent again alone
      CHECK(s.statements_executed() - before == 3);
    }
  }());
}
