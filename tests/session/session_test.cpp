#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

using test::new_todo;
using test::new_user;

TEST_CASE("commit inserts added objects and writes generated values back", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto before = now();
  auto user = new_user(s, "alice@example.com");
  CHECK(user->id == 0);
  s.commit();
  CHECK(user->id > 0);
  CHECK(user->created_at >= before - 5s);
  CHECK(user->created_at == user->updated_at);
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", user->id) ==
        "alice@example.com");
  CHECK(fx.db.scalar<Timestamp>("SELECT created_at FROM users WHERE id = $1", user->id) ==
        user->created_at);
}

TEST_CASE("many new rows of a table are inserted with one statement", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  std::vector<User> users(100);
  for (int i = 0; i < 100; ++i) users[i].email = fmt::format("user{}@example.com", i);
  auto tracked = s.add_all(users);
  auto before = s.statements_executed();
  s.commit();
  // One INSERT ... RETURNING: a unit of work of one statement runs alone, in autocommit.
  CHECK(s.statements_executed() - before == 1);
  CHECK(fx.count("users") == 100);
  std::set<std::int32_t> ids;
  for (const auto& u : tracked) ids.insert(u->id);
  CHECK(ids.size() == 100);
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", tracked[42]->id) ==
        "user42@example.com");
}

TEST_CASE("get serves an object already loaded from the identity map", "[session]") {
  test::SessionFixture fx;
  auto id = fx.insert_user("bob@example.com");
  auto s = fx.session();
  auto a = s.get<User>(id);
  REQUIRE(a);
  auto statements = s.statements_executed();
  auto b = s.get<User>(id);
  CHECK(a == b);  // the same object
  CHECK(s.statements_executed() == statements);
  auto listed = s.execute(select<User>().where(col<&User::id> == id));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == a);
  CHECK_FALSE(s.get<User>(id + 1000));
}

TEST_CASE("flush inserts parents before children whatever the order they were added",
          "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Project p;
  p.name = "apollo";
  Task t;
  t.title = "launch";
  auto project_key = Uuid::v7();
  p.id = project_key;
  t.project_id = project_key;
  s.add(t);  // the child first
  s.add(p);
  s.commit();
  CHECK(fx.count("projects") == 1);
  CHECK(fx.db.scalar<std::string>("SELECT title FROM tasks WHERE project_id = $1", project_key) ==
        "launch");
}

TEST_CASE("UUID keys are generated on the client when an object is added", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Project p;
  p.name = "gemini";
  auto tracked = s.add(p);
  CHECK_FALSE(tracked->id.is_nil());
  CHECK(tracked->id.version() == 7);
  s.commit();
  CHECK(fx.db.scalar<Uuid>("SELECT id FROM projects") == tracked->id);
}

TEST_CASE("dirty checking sends only the changed columns", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("carol@example.com");
  auto tid = fx.insert_todo(uid, "draft");
  auto s = fx.session();
  auto todo = s.get<Todo>(tid);
  REQUIRE(todo);
  todo->title = "final";
  // Someone else changes another column meanwhile: the session must not overwrite it.
  fx.db.conn().exec("UPDATE todos SET description = 'from elsewhere' WHERE id = $1", tid);
  auto before_update = todo->updated_at;
  std::this_thread::sleep_for(2ms);
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", tid) == "final");
  CHECK(fx.db.scalar<std::string>("SELECT description FROM todos WHERE id = $1", tid) ==
        "from elsewhere");
  CHECK(todo->updated_at > before_update);
  CHECK(fx.db.scalar<Timestamp>("SELECT updated_at FROM todos WHERE id = $1", tid) ==
        todo->updated_at);
}

TEST_CASE("updates of the same columns reuse one statement text, each row with its own values",
          "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("erin@example.com");
  std::vector<std::int32_t> ids;
  for (const char* title : {"t1", "t2", "t3", "t4"}) ids.push_back(fx.insert_todo(uid, title));
  auto stored = [&](std::int32_t id) {
    return fx.db.conn().query<std::tuple<std::string, std::optional<std::string>, std::string>>(
        "SELECT title, description, status::text FROM todos WHERE id = $1", id);
  };
  using Row = std::tuple<std::string, std::optional<std::string>, std::string>;
  auto s = fx.session();
  std::vector<std::shared_ptr<Todo>> todos;
  for (auto id : ids) todos.push_back(s.get<Todo>(id));
  todos[0]->title = "a1";  // title only, three times: the text rendered once, then reused
  todos[1]->title = "a2";
  todos[2]->title = "a3";
  todos[3]->description = "d4";  // another set of columns, another text
  s.commit();
  CHECK(stored(ids[0]) == std::vector<Row>{{"a1", std::nullopt, "pending"}});
  CHECK(stored(ids[1]) == std::vector<Row>{{"a2", std::nullopt, "pending"}});
  CHECK(stored(ids[2]) == std::vector<Row>{{"a3", std::nullopt, "pending"}});
  CHECK(stored(ids[3]) == std::vector<Row>{{"t4", "d4", "pending"}});

  // The same session again: kept texts and a new one, in one flush.
  todos[0]->description = "d1";
  todos[1]->title = "b2";
  todos[2]->title = "b3";
  todos[2]->status = TodoStatus::completed;
  todos[3]->description = std::nullopt;
  s.commit();
  CHECK(stored(ids[0]) == std::vector<Row>{{"a1", "d1", "pending"}});
  CHECK(stored(ids[1]) == std::vector<Row>{{"b2", std::nullopt, "pending"}});
  CHECK(stored(ids[2]) == std::vector<Row>{{"b3", std::nullopt, "completed"}});
  CHECK(stored(ids[3]) == std::vector<Row>{{"t4", std::nullopt, "pending"}});
  for (std::size_t i = 0; i < ids.size(); ++i)
    CHECK(fx.db.scalar<Timestamp>("SELECT updated_at FROM todos WHERE id = $1", ids[i]) ==
          todos[i]->updated_at);
}

TEST_CASE("an unchanged object costs no statement at commit", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("dave@example.com");
  auto s = fx.session();
  auto user = s.get<User>(uid);
  auto statements = s.statements_executed();
  s.commit();
  CHECK(s.statements_executed() == statements);
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("objects stay valid after commit and after the session closes", "[session]") {
  test::SessionFixture fx;
  std::shared_ptr<User> user;
  {
    auto s = fx.session();
    user = new_user(s, "erin@example.com");
    s.commit();
  }
  CHECK(user->email == "erin@example.com");
  CHECK(user->id > 0);
  auto s2 = fx.session();
  auto again = s2.get<User>(user->id);
  REQUIRE(again);
  CHECK(*again == *user);
}

TEST_CASE("a session destroyed during an exception rolls back", "[session]") {
  test::SessionFixture fx;
  try {
    auto s = fx.session();
    new_user(s, "frank@example.com");
    s.flush();
    CHECK(s.in_transaction());
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  CHECK(fx.count("users") == 0);
  // The pooled connection went back clean.
  CHECK(fx.engine.pool().stats().checked_out == 0);
}

TEST_CASE("rollback discards pending and flushed work", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_user(s, "gina@example.com");
  s.flush();
  new_user(s, "hank@example.com");
  s.rollback();
  s.commit();
  CHECK(fx.count("users") == 0);
}

TEST_CASE("a nested transaction rolls back alone", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_user(s, "outer@example.com");
  {
    auto nested = s.begin_nested();
    new_user(s, "inner@example.com");
    nested.rollback();
  }
  {
    auto nested = s.begin_nested();
    new_user(s, "kept@example.com");
    nested.commit();
  }
  {
    auto nested = s.begin_nested();
    new_user(s, "dropped@example.com");
    s.flush();
  }  // not committed: rolled back when it goes out of scope
  s.commit();
  auto emails = fx.db.conn().query<std::string>("SELECT email FROM users ORDER BY email");
  CHECK(emails == std::vector<std::string>{"kept@example.com", "outer@example.com"});
}

TEST_CASE("an outer savepoint cannot finish before the one nested in it", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto outer = s.begin_nested();
  auto inner = s.begin_nested();
  CHECK_THROWS_AS(outer.commit(), InterfaceError);
  inner.commit();
  outer.commit();
  s.commit();
}

TEST_CASE("remove soft-deletes SoftDelete models and deletes others", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("ivy@example.com");
  auto tid = fx.insert_todo(uid, "old");
  auto s = fx.session();
  auto todo = s.get<Todo>(tid);
  s.remove(todo);
  s.commit();
  CHECK(todo->is_deleted());
  CHECK(fx.count("todos") == 1);
  CHECK(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE id = $1", tid));
  CHECK_FALSE(s.get<Todo>(tid));  // soft-deleted rows are not found

  auto t2 = fx.insert_todo(uid, "gone");
  auto todo2 = s.get<Todo>(t2);
  s.remove(todo2, hard);
  auto user = s.get<User>(uid);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE id = $1", t2) == 0);
  s.remove(s.get<User>(uid));
  s.commit();
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);  // ON DELETE CASCADE
}

TEST_CASE("removing an object the session does not track is an error", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto stranger = std::make_shared<User>();
  stranger->id = 5;
  CHECK_THROWS_AS(s.remove(stranger), InterfaceError);
}

TEST_CASE("refresh reloads the row", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("jack@example.com");
  auto s = fx.session();
  auto user = s.get<User>(uid);
  fx.db.conn().exec("UPDATE users SET email = 'jack@new.example.com' WHERE id = $1", uid);
  CHECK(user->email == "jack@example.com");
  s.refresh(user);
  CHECK(user->email == "jack@new.example.com");
  s.commit();  // nothing changed after the refresh: no UPDATE
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "jack@new.example.com");
}

TEST_CASE("expunge stops tracking an object", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("kate@example.com");
  auto s = fx.session();
  auto user = s.get<User>(uid);
  s.expunge(user);
  user->email = "changed@example.com";
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "kate@example.com");
  CHECK_FALSE(s.contains(user));
}

TEST_CASE("merge copies a detached object onto the stored row", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("leo@example.com");
  User detached;
  detached.id = uid;
  detached.email = "leo@merged.example.com";
  auto s = fx.session();
  auto tracked = s.merge(detached);
  CHECK(tracked->email == "leo@merged.example.com");
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "leo@merged.example.com");
  // A detached object with no stored row becomes a new one.
  User fresh;
  fresh.email = "new@example.com";
  s.merge(fresh);
  s.commit();
  CHECK(fx.count("users") == 2);
}

TEST_CASE("a unique violation at flush names the constraint and writes nothing", "[session]") {
  test::SessionFixture fx;
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  new_user(s, "free@example.com");
  new_user(s, "taken@example.com");
  try {
    s.commit();
    FAIL("expected a UniqueViolation");
  } catch (const UniqueViolation& e) {
    CHECK(e.sqlstate() == "23505");
    CHECK(e.table() == "users");
    CHECK(e.constraint() == "uq_users_email");
    CHECK(e.statement().find("INSERT INTO \"users\"") == 0);
    CHECK(std::string(e.what()).find("uq_users_email") != std::string::npos);
  }
  CHECK(fx.count("users") == 1);
  CHECK_FALSE(s.in_transaction());
  new_user(s, "after@example.com");  // the session is usable after the failure
  s.commit();
  CHECK(fx.count("users") == 2);
}

TEST_CASE("a foreign key violation is a ForeignKeyViolation", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_todo(s, 999, "orphan");
  CHECK_THROWS_AS(s.commit(), ForeignKeyViolation);
  CHECK(fx.count("todos") == 0);
}

TEST_CASE("a check violation names the check constraint", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Project p;
  p.name = "x";
  auto project = s.add(p);
  Task t;
  t.project_id = project->id;
  t.points = -1;
  s.add(t);
  try {
    s.commit();
    FAIL("expected a CheckViolation");
  } catch (const CheckViolation& e) {
    CHECK(e.constraint() == "ck_tasks_points_not_negative");
  }
  CHECK(fx.count("projects") == 0);
}

TEST_CASE("a value too long for its column is a DataError and nothing is written", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  new_user(s, std::string(300, 'x'));
  try {
    s.commit();
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK(e.sqlstate() == "22001");
  }
  CHECK(fx.count("users") == 0);
}

TEST_CASE("autoflush flushes pending objects before a query", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session(SessionOptions{.autoflush = true, .expire_on_commit = true});
  new_user(s, "auto@example.com");
  CHECK(s.count(select<User>()) == 1);
  s.rollback();
  auto manual = fx.session();
  new_user(manual, "manual@example.com");
  CHECK(manual.count(select<User>()) == 0);
}

TEST_CASE("reads outside a write do not open a transaction", "[session]") {
  test::SessionFixture fx;
  fx.insert_user("reader@example.com");
  auto s = fx.session();
  auto before = s.statements_executed();
  auto users = s.execute(select<User>());
  CHECK(users.size() == 1);
  CHECK(s.statements_executed() - before == 1);
  CHECK_FALSE(s.in_transaction());
  {
    // A read-only transaction scope costs no BEGIN/COMMIT under READ COMMITTED.
    auto tx = s.begin();
    before = s.statements_executed();
    auto again = s.execute(select<User>().where(col<&User::email> == "reader@example.com"));
    tx.commit();
    CHECK(s.statements_executed() - before == 1);
  }
  {
    auto tx = s.begin(IsolationLevel::repeatable_read);
    CHECK(s.in_transaction());
    CHECK(s.query<std::string>("SHOW transaction_isolation") ==
          std::vector<std::string>{"repeatable read"});
    tx.commit();
    CHECK_FALSE(s.in_transaction());
  }
  {
    auto tx = s.begin();
    new_user(s, "scoped@example.com");
  }  // rolled back: the scope was not committed
  CHECK(fx.count("users") == 1);
}

TEST_CASE("injection strings are stored and read back verbatim through the session",
          "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  std::vector<std::string> evil = {"'; DROP TABLE users; --", "\\'", "\"users\"", "$1 $2",
                                   "ünï ✓ 😀", "a\\b\\\\c"};
  for (const auto& e : evil) new_user(s, e);
  s.commit();
  for (const auto& e : evil) {
    auto found = s.execute(select<User>().where(col<&User::email> == e));
    REQUIRE(found.size() == 1);
    CHECK(found[0]->email == e);
  }
  CHECK(fx.count("users") == static_cast<std::int64_t>(evil.size()));
}

TEST_CASE("run_in_transaction retries on serialization failure", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("retry@example.com");
  SessionFactory factory(fx.engine);
  int attempts = 0;
  run_in_transaction(factory, [&](Session& s) {
    ++attempts;
    auto user = s.get<User>(uid);
    user->email = fmt::format("attempt{}@example.com", attempts);
    if (attempts == 1) {
      ErrorInfo info;
      info.sqlstate = "40001";
      info.message = "could not serialize access";
      throw SerializationFailure(info);
    }
  });
  CHECK(attempts == 2);
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "attempt2@example.com");
}
