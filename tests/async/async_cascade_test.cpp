// AsyncSession runs the unit of work of Session (detail::FlushPlan): relationship cascades,
// association rows and insert waves, each read back from the server.
#include <catch2/catch.hpp>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

namespace {
std::shared_ptr<Todo> todo_titled(std::string title) {
  auto t = std::make_shared<Todo>();
  t->title = std::move(title);
  return t;
}
}  // namespace

TEST_CASE("async: a new child reached only through a collection is inserted with its parent's key",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  auto user = test::new_user(s, "parent@example.com");
  auto first = todo_titled("first");
  auto second = todo_titled("second");
  user->todos.add(first);
  user->todos.add(second);
  std::uint64_t round_trips = 0;
  fx.run([&]() -> awaitable<void> {
    co_await s.commit();
    round_trips = s.round_trips();
  }());
  // The users row first (its key is generated), then the todos with COMMIT: two round trips.
  CHECK(round_trips == 2);
  REQUIRE(user->id != 0);
  CHECK(first->id != 0);
  CHECK(first->user_id == user->id);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", user->id) == 2);
  CHECK(fx.db.conn().query<std::string>("SELECT title FROM todos ORDER BY id") ==
        std::vector<std::string>{"first", "second"});
}

TEST_CASE("async: a child whose many-to-one points at a new parent waits for the parent's key",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  auto todo = s.add(Todo{});
  todo->title = "orphan no more";
  auto user = std::make_shared<User>();
  user->email = "late@example.com";
  todo->user = user;  // save-update cascade adds the user
  fx.run([&]() -> awaitable<void> { co_await s.commit(); }());
  REQUIRE(user->id != 0);
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE id = $1", todo->id) ==
        user->id);
}

TEST_CASE("async: moving a loaded child to a new parent updates it after the parent's insert",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto old_owner = fx.insert_user("old@example.com");
  auto tid = fx.insert_todo(old_owner, "moves");
  auto s = fx.session();
  std::int32_t new_owner = 0;
  fx.run([&]() -> awaitable<void> {
    auto todo = co_await s.get<Todo>(tid);
    auto user = test::new_user(s, "new@example.com");
    todo->user = user;
    co_await s.commit();
    new_owner = user->id;
  }());
  REQUIRE(new_owner != 0);
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE id = $1", tid) == new_owner);
}

TEST_CASE("async: a hard delete of a user deletes its todos when the database would refuse",
          "[async][session][cascade]") {
  // With ON DELETE NO ACTION only the session's delete cascade can remove the children, including
  // a soft-deleted one that no collection lists.
  test::AsyncFixture fx;
  fx.redefine_todo_user_fk("ON DELETE NO ACTION");
  auto uid = fx.insert_user("owner@example.com");
  fx.insert_todo(uid, "one");
  fx.insert_todo(uid, "two");
  auto hidden = fx.insert_todo(uid, "soft-deleted");
  fx.db.conn().exec("UPDATE todos SET deleted_at = now() WHERE id = $1", hidden);
  auto other = fx.insert_user("other@example.com");
  fx.insert_todo(other, "stays");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    s.remove(co_await s.get<User>(uid), hard);
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 1);
  CHECK(fx.db.conn().query<std::string>("SELECT title FROM todos") ==
        std::vector<std::string>{"stays"});
}

TEST_CASE("async: a soft delete cascades to soft-delete children", "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto root = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('root', 'r') RETURNING id");
  fx.db.conn().exec("INSERT INTO categories (name, slug, parent_id) VALUES ('leaf', 'l', $1)",
                    root);
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    s.remove(co_await s.get<Category>(root));
    co_await s.commit();
  }());
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM categories WHERE deleted_at IS NULL") ==
        0);
  CHECK(fx.count("categories") == 2);
}

TEST_CASE("async: delete-orphan removes a child taken out of its collection",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("orphans@example.com");
  auto kept = fx.insert_todo(uid, "kept");
  fx.insert_todo(uid, "orphaned");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    auto users = co_await s.execute(
        select<User>().where(col<&User::id> == uid).options(selectin(&User::todos)));
    auto& todos = users.at(0)->todos;
    for (const auto& t : std::vector<std::shared_ptr<Todo>>(todos.begin(), todos.end()))
      if (t->title == "orphaned") todos.remove(t);
    co_await s.commit();
  }());
  CHECK(fx.db.conn().query<std::int32_t>("SELECT id FROM todos WHERE deleted_at IS NULL") ==
        std::vector<std::int32_t>{kept});
}

TEST_CASE("async: many-to-many members added and removed write association rows",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("tags@example.com");
  auto tid = fx.insert_todo(uid, "tagged");
  auto home = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('home', 'h') RETURNING id");
  auto work = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('work', 'w') RETURNING id");
  fx.db.conn().exec("INSERT INTO todo_categories (todo_id, category_id) VALUES ($1, $2)", tid,
                    work);
  auto s = fx.session();
  std::shared_ptr<Category> fresh;
  fx.run([&]() -> awaitable<void> {
    auto todos = co_await s.execute(
        select<Todo>().where(col<&Todo::id> == tid).options(selectin(&Todo::categories)));
    auto todo = todos.at(0);
    auto h = co_await s.get<Category>(home);
    auto w = co_await s.get<Category>(work);
    todo->categories.add(h);
    todo->categories.remove(w);
    // A new category gets its key in the first wave; its association row follows.
    Category c;
    c.name = "new";
    c.slug = "n";
    fresh = s.add(std::move(c));
    todo->categories.add(fresh);
    co_await s.commit();
  }());
  REQUIRE(fresh->id != 0);
  CHECK(fx.db.conn().query<std::int32_t>(
            "SELECT category_id FROM todo_categories WHERE todo_id = $1 ORDER BY category_id",
            tid) == std::vector<std::int32_t>{home, fresh->id});
}

TEST_CASE("async: a tree of new categories is inserted level by level",
          "[async][session][cascade]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  Category r;
  r.name = "root";
  r.slug = "root-slug";
  auto root = s.add(std::move(r));
  auto child = std::make_shared<Category>();
  child->name = "child";
  child->slug = "child-slug";
  auto grandchild = std::make_shared<Category>();
  grandchild->name = "grandchild";
  grandchild->slug = "grandchild-slug";
  root->children.add(child);
  child->children.add(grandchild);
  fx.run([&]() -> awaitable<void> { co_await s.commit(); }());
  CHECK(fx.db.scalar<std::string>(
            "SELECT p.name FROM categories c JOIN categories p ON p.id = c.parent_id "
            "WHERE c.name = 'grandchild'") == "child");
  CHECK(fx.db.scalar<std::string>(
            "SELECT p.name FROM categories c JOIN categories p ON p.id = c.parent_id "
            "WHERE c.name = 'child'") == "root");
}

TEST_CASE("async: a failed cascade write rolls back the whole flush", "[async][session][cascade]") {
  test::AsyncFixture fx;
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  auto user = test::new_user(s, "fresh@example.com");
  user->todos.add(todo_titled("with its user"));
  auto clash = test::new_user(s, "taken@example.com");
  bool unique = false;
  fx.run([&]() -> awaitable<void> {
    unique = co_await test::throws_as<UniqueViolation>(s.commit());
  }());
  CHECK(unique);
  CHECK(fx.count("users") == 1);
  CHECK(fx.count("todos") == 0);
}
