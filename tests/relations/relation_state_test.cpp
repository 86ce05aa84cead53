// What relationship members hold after deletes, for rows read outside the identity map, and in
// copies of loaded objects: never a stale link that a later flush would write back.
#include <catch2/catch.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

template <class Collection, class T>
bool holds(const Collection& collection, const std::shared_ptr<T>& object) {
  return std::find(collection.begin(), collection.end(), object) != collection.end();
}

}  // namespace

// ---- deletes ----

TEST_CASE("a todo deleted from a loaded collection is not written back by a later commit",
          "[relations][failure]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("owner@example.com");
  for (int i = 0; i < 3; ++i) fx.insert_todo(uid, fmt::format("todo {}", i));
  auto s = fx.session();
  auto user = s.one(select<User>().where(col<&User::id> == uid).options(selectin(&User::todos)));
  REQUIRE(user->todos.size() == 3);
  auto doomed = user->todos[1];
  auto doomed_id = doomed->id;
  auto rows_of_doomed = [&] {
    return fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE id = $1", doomed_id);
  };

  SECTION("a hard delete") {
    s.remove(doomed, hard);
    s.commit();
    CHECK(rows_of_doomed() == 0);
    CHECK(user->todos.size() == 2);
    CHECK_FALSE(holds(user->todos, doomed));

    user->email = "renamed@example.com";
    CHECK_NOTHROW(s.commit());
    CHECK(rows_of_doomed() == 0);
    CHECK(fx.count("todos") == 2);
  }
  SECTION("a soft delete") {
    s.remove(doomed);
    s.commit();
    CHECK(doomed->is_deleted());
    CHECK(user->todos.size() == 2);
    CHECK_FALSE(holds(user->todos, doomed));

    user->email = "renamed@example.com";
    CHECK_NOTHROW(s.commit());
    CHECK(rows_of_doomed() == 1);
    CHECK(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE id = $1", doomed_id));
    CHECK(fx.count("todos") == 3);
  }
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", uid) ==
        "renamed@example.com");
}

TEST_CASE("deleting a user deletes its soft-deleted todos as well", "[relations][failure]") {
  test::SessionFixture fx;
  // No ON DELETE CASCADE: the session has to delete every child row itself.
  fx.redefine_todo_user_fk("ON DELETE NO ACTION");
  auto uid = fx.insert_user("leaving@example.com");
  fx.insert_todo(uid, "live");
  auto soft_id = fx.insert_todo(uid, "soft-deleted");
  auto s = fx.session();
  s.remove(s.get<Todo>(soft_id));
  s.commit();
  REQUIRE(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE id = $1", soft_id));

  s.remove(s.get<User>(uid));
  CHECK_NOTHROW(s.commit());
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);
}

// ---- rows outside the identity map ----

TEST_CASE("rows read outside the identity map do not claim their relationships are loaded",
          "[relations][failure]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("values@example.com");
  fx.insert_todo(uid, "stored");
  auto s = fx.session();
  auto check_todo = [](const Todo& row) {
    CHECK_FALSE(row.user.loaded());
    CHECK_THROWS_AS(row.user.get(), NotLoaded);
    CHECK_FALSE(row.categories.loaded());
    CHECK_THROWS_AS(row.categories.size(), NotLoaded);
  };
  auto check_user = [](const User& row) {
    CHECK_FALSE(row.todos.loaded());
    CHECK_THROWS_AS(row.todos.size(), NotLoaded);
  };

  auto by_values = s.values(select<Todo>());
  REQUIRE(by_values.size() == 1);
  check_todo(by_values[0]);

  auto by_sql = s.query<Todo>("SELECT * FROM todos");
  REQUIRE(by_sql.size() == 1);
  check_todo(by_sql[0]);

  Todo fresh;
  fresh.title = "returned";
  fresh.user_id = uid;
  auto returned = s.execute(insert<Todo>().value(fresh).returning());
  REQUIRE(returned.size() == 1);
  check_todo(returned[0]);

  auto users = s.values(select<User>());
  REQUIRE(users.size() == 1);
  check_user(users[0]);
  auto users_by_sql = s.query<User>("SELECT * FROM users");
  REQUIRE(users_by_sql.size() == 1);
  check_user(users_by_sql[0]);
  s.commit();
}

// ---- copies ----

TEST_CASE("a copy of a loaded object has no loaded relationships", "[relations][failure]") {
  test::SessionFixture fx;
  fx.insert_users_with_todos(1, 2);
  auto s = fx.session();
  auto user = s.one(select<User>().options(selectin(&User::todos)));
  REQUIRE(user->todos.size() == 2);
  auto todo = user->todos[0];
  REQUIRE(todo->user.get() == user);

  Todo copy = *todo;
  CHECK(copy.title == todo->title);
  CHECK_FALSE(copy.user.loaded());
  CHECK_THROWS_AS(copy.user.get(), NotLoaded);
  Todo assigned;
  assigned = *todo;
  CHECK_THROWS_AS(assigned.user.get(), NotLoaded);
  User user_copy = *user;
  CHECK(user_copy.email == user->email);
  CHECK_FALSE(user_copy.todos.loaded());
  CHECK_THROWS_AS(user_copy.todos.size(), NotLoaded);
}

TEST_CASE("assigning a relationship of a copy leaves the original and its collections alone",
          "[relations][failure]") {
  test::SessionFixture fx;
  fx.insert_users_with_todos(2, 2);
  auto s = fx.session();
  auto users = s.execute(select<User>().order_by(col<&User::id>).options(selectin(&User::todos)));
  REQUIRE(users.size() == 2);
  auto u1 = users[0];
  auto u2 = users[1];
  auto todo = u1->todos[0];
  REQUIRE(todo->user.get() == u1);

  Todo copy = *todo;
  copy.user = u2;
  CHECK(copy.user.get() == u2);
  CHECK(todo->user.get() == u1);
  CHECK(u1->todos.size() == 2);
  CHECK(holds(u1->todos, todo));
  CHECK(u2->todos.size() == 2);
  CHECK_FALSE(holds(u2->todos, todo));
  s.commit();
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE id = $1", todo->id) == u1->id);
}

TEST_CASE("merge copies only columns onto the tracked object", "[relations][failure]") {
  test::SessionFixture fx;
  fx.insert_users_with_todos(1, 2);
  auto s = fx.session();
  auto user = s.one(select<User>().options(selectin(&User::todos)));
  auto todo = user->todos[0];
  REQUIRE(todo->user.get() == user);
  auto keeps_relationships = [&] {
    REQUIRE(todo->user.loaded());
    CHECK(todo->user.get() == user);
    REQUIRE(user->todos.loaded());
    CHECK(user->todos.size() == 2);
    CHECK(holds(user->todos, todo));
  };

  SECTION("a copy of the tracked object") {
    Todo edited = *todo;
    edited.title = "merged from a copy";
    CHECK(s.merge(edited) == todo);
    CHECK(todo->title == "merged from a copy");
    keeps_relationships();
    User user_edited = *user;
    user_edited.email = "merged@example.com";
    CHECK(s.merge(user_edited) == user);
    CHECK(user->email == "merged@example.com");
    keeps_relationships();
  }
  SECTION("a value read outside the identity map") {
    auto rows = s.values(select<Todo>().where(col<&Todo::id> == todo->id));
    REQUIRE(rows.size() == 1);
    rows[0].title = "merged from a value";
    CHECK(s.merge(rows[0]) == todo);
    CHECK(todo->title == "merged from a value");
    keeps_relationships();
  }
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", todo->id) ==
        todo->title);
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE id = $1", todo->id) ==
        user->id);
  CHECK(fx.count("todos") == 2);
}
