#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace rel {

struct Article;

// Two foreign keys to the same table: which is which is named with back_populates.
struct Writer : pgorm::Model<Writer> {
  std::string name;
  pgorm::HasMany<Article> written;
  pgorm::HasMany<Article> reviewed;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Writer::name>());
  static constexpr auto relationships = pgorm::relationships(
      pgorm::relation<&Writer::written>(pgorm::cascade::all, pgorm::passive_deletes),
      pgorm::relation<&Writer::reviewed>());
};

struct Article : pgorm::Model<Article> {
  std::string title;
  std::int32_t author_id = 0;
  std::optional<std::int32_t> reviewer_id;
  pgorm::BelongsTo<Writer, &Article::author_id> author;
  pgorm::BelongsTo<Writer, &Article::reviewer_id> reviewer;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Article::title>(),
                     pgorm::column<&Article::author_id>(
                         pgorm::foreign_key<&Writer::id>(pgorm::on_delete::cascade)),
                     pgorm::column<&Article::reviewer_id>(
                         pgorm::foreign_key<&Writer::id>(pgorm::on_delete::set_null)));
  static constexpr auto relationships = pgorm::relationships(
      pgorm::relation<&Article::author>(pgorm::back_populates<&Writer::written>),
      pgorm::relation<&Article::reviewer>(pgorm::back_populates<&Writer::reviewed>));
};

// A relationship member left out of `relationships`: the session knows nothing about it.
struct Shelf : pgorm::Model<Shelf> {
  std::string name;
  pgorm::HasMany<testmodels::Todo> todos;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Shelf::name>());
};

}  // namespace rel

namespace {

// users x todos_each todos, inserted directly; returns user ids in order.
std::vector<std::int32_t> seed(test::SessionFixture& fx, int users, int todos_each) {
  fx.insert_users_with_todos(users, todos_each);
  return fx.db.conn().query<std::int32_t>("SELECT id FROM users ORDER BY id");
}

}  // namespace

TEST_CASE("selectin loads a page of users with their todos in two statements", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 120, 20);
  auto s = fx.session();
  auto before = s.statements_executed();
  auto users =
      s.execute(select<User>().order_by(col<&User::id>).limit(100).options(selectin(&User::todos)));
  CHECK(s.statements_executed() - before == 2);
  REQUIRE(users.size() == 100);
  for (const auto& u : users) {
    REQUIRE(u->todos.size() == 20);
    for (const auto& t : u->todos) {
      CHECK(t->user_id == u->id);
      CHECK(t->user.get() == u);  // back_populates filled the other side
    }
  }
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", users[7]->id) ==
        20);
}

TEST_CASE("joined loads the same objects in one statement", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 120, 20);
  std::map<std::int32_t, std::vector<std::int32_t>> by_selectin, by_joined;
  {
    auto s = fx.session();
    by_selectin = test::todo_ids_by_user(s.execute(select<User>()
                                                       .order_by(col<&User::id>)
                                                       .offset(10)
                                                       .limit(100)
                                                       .options(selectin(&User::todos))));
  }
  {
    auto s = fx.session();
    auto before = s.statements_executed();
    auto users = s.execute(select<User>()
                               .order_by(col<&User::id>)
                               .offset(10)
                               .limit(100)
                               .options(joined(&User::todos)));
    CHECK(s.statements_executed() - before == 1);
    REQUIRE(users.size() == 100);  // LIMIT counts users, not joined rows
    by_joined = test::todo_ids_by_user(users);
  }
  CHECK(by_joined == by_selectin);
  CHECK(by_joined.begin()->second.size() == 20);
}

TEST_CASE("many-to-one loads with selectin and joined", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 3, 2);
  for (bool use_joined : {false, true}) {
    auto s = fx.session();
    auto q = select<Todo>().order_by(col<&Todo::id>);
    auto before = s.statements_executed();
    auto todos = use_joined ? s.execute(q.options(joined(&Todo::user)))
                            : s.execute(q.options(selectin(&Todo::user)));
    CHECK(s.statements_executed() - before == (use_joined ? 1u : 2u));
    REQUIRE(todos.size() == 6);
    for (const auto& t : todos) {
      REQUIRE(t->user);
      CHECK(t->user->id == t->user_id);
    }
    for (const auto& a : todos)  // one object per user (identity map)
      for (const auto& b : todos)
        if (a->user_id == b->user_id) CHECK(a->user.get() == b->user.get());
    CHECK(todos[0]->user->email ==
          fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", todos[0]->user_id));
  }
}

TEST_CASE("reading a relationship that was not loaded is an error, never a query", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 1, 2);
  auto s = fx.session();
  auto user = s.one(select<User>());
  auto todo = s.first(select<Todo>());
  auto statements = s.statements_executed();
  CHECK_THROWS_AS(user->todos.size(), NotLoaded);
  CHECK_THROWS_AS(todo->user.get(), NotLoaded);
  CHECK(s.statements_executed() == statements);
  s.load(user, &User::todos);
  CHECK(user->todos.size() == 2);
}

TEST_CASE("appending to a collection sets the other side and the foreign key at flush",
          "[relations]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = std::make_shared<User>();
  user->email = "owner@example.com";
  auto first = std::make_shared<Todo>();
  first->title = "first";
  user->todos.add(first);
  s.add(user);  // the todo comes along (save-update cascade)
  CHECK(first->user.get() == user);
  auto second = std::make_shared<Todo>();
  second->title = "second";
  user->todos.add(second);
  CHECK(second->user.get() == user);
  s.commit();
  CHECK(user->id > 0);
  CHECK(first->user_id == user->id);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", user->id) == 2);
  // Setting the many-to-one side moves the object between collections.
  auto other = s.add(User{});
  other->email = "other@example.com";
  s.flush();
  s.load(other, &User::todos);
  s.load(user, &User::todos);
  second->user = other;
  CHECK(other->todos.size() == 1);
  CHECK(user->todos.size() == 1);
  s.commit();
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE title = 'second'") ==
        other->id);
}

TEST_CASE("deleting a parent deletes its children first, and nothing else", "[relations]") {
  test::SessionFixture fx;
  auto ids = seed(fx, 2, 3);
  auto s = fx.session();
  auto user = s.get<User>(ids[0]);
  s.remove(user);
  s.commit();
  CHECK(fx.count("users") == 1);
  // Todo is a SoftDelete model but its parent row is gone: the cascade deletes the rows.
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", ids[0]) == 0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", ids[1]) == 3);
}

TEST_CASE("taking a child out of a delete-orphan collection deletes it", "[relations]") {
  test::SessionFixture fx;
  auto ids = seed(fx, 1, 3);
  auto s = fx.session();
  auto users = s.execute(select<User>().options(selectin(&User::todos)));
  auto orphan = users[0]->todos[1];
  users[0]->todos.remove(orphan);
  CHECK_FALSE(orphan->user);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE deleted_at IS NULL") == 2);
  CHECK(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE id = $1", orphan->id));
}

TEST_CASE("soft-deleted children never appear through any loading strategy", "[relations]") {
  test::SessionFixture fx;
  auto ids = seed(fx, 1, 3);
  fx.db.conn().exec("UPDATE todos SET deleted_at = now() WHERE id = (SELECT min(id) FROM todos)");
  {
    auto s = fx.session();
    CHECK(s.execute(select<User>().options(selectin(&User::todos)))[0]->todos.size() == 2);
  }
  {
    auto s = fx.session();
    CHECK(s.execute(select<User>().options(joined(&User::todos)))[0]->todos.size() == 2);
  }
  {
    auto s = fx.session();
    auto u = s.get<User>(ids[0]);
    s.load(u, &User::todos);
    CHECK(u->todos.size() == 2);
  }
  {
    auto s = fx.session();
    fx.db.conn().exec("UPDATE todos SET deleted_at = now()");
    CHECK(s.count(select<User>().where(has(&User::todos))) == 0);
  }
}

TEST_CASE("soft-deleting a parent soft-deletes its soft-delete children", "[relations]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto root = std::make_shared<Category>();
  root->name = "root";
  root->slug = "r";
  for (int i = 0; i < 2; ++i) {
    auto child = std::make_shared<Category>();
    child->name = "child" + std::to_string(i);
    child->slug = "c" + std::to_string(i);
    root->children.add(child);
  }
  s.add(root);
  s.commit();
  CHECK(fx.count("categories") == 3);
  auto again = s.get<Category>(root->id);
  s.remove(again);
  s.commit();
  CHECK(fx.count("categories") == 3);  // rows stay
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM categories WHERE deleted_at IS NOT NULL") == 3);
}

TEST_CASE("a self-referential tree is written in one commit and read back level by level",
          "[relations]") {
  test::SessionFixture fx;
  {
    auto s = fx.session();
    auto root = std::make_shared<Category>();
    root->name = "root";
    root->slug = "root-slug";
    for (int i = 0; i < 3; ++i) {
      auto child = std::make_shared<Category>();
      child->name = "child" + std::to_string(i);
      child->slug = "child-slug" + std::to_string(i);
      for (int j = 0; j < 2; ++j) {
        auto leaf = std::make_shared<Category>();
        leaf->name = "leaf" + std::to_string(i) + std::to_string(j);
        leaf->slug = "leaf-slug" + std::to_string(i) + std::to_string(j);
        child->children.add(leaf);
      }
      root->children.add(child);
    }
    s.add(root);
    s.commit();
  }
  CHECK(fx.count("categories") == 10);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM categories c JOIN categories p ON c.parent_id = p.id "
            "WHERE p.name LIKE 'child%'") == 6);
  auto s = fx.session();
  auto before = s.statements_executed();
  auto roots = s.execute(select<Category>()
                             .where(col<&Category::parent_id>.is_null())
                             .options(selectin(&Category::children, &Category::children)));
  CHECK(s.statements_executed() - before == 3);
  REQUIRE(roots.size() == 1);
  REQUIRE(roots[0]->children.size() == 3);
  for (const auto& child : roots[0]->children) {
    CHECK(child->parent.get() == roots[0]);
    CHECK(child->children.size() == 2);
  }
}

TEST_CASE("many-to-many members are added and removed through the association table",
          "[relations]") {
  test::SessionFixture fx;
  auto ids = seed(fx, 1, 2);
  auto s = fx.session();
  auto work = std::make_shared<Category>();
  work->name = "work";
  work->slug = "w";
  auto home = std::make_shared<Category>();
  home->name = "home";
  home->slug = "h";
  auto todos =
      s.execute(select<Todo>().order_by(col<&Todo::id>).options(selectin(&Todo::categories)));
  REQUIRE(todos.size() == 2);
  CHECK(todos[0]->categories.empty());
  todos[0]->categories.add(work);
  todos[0]->categories.add(home);
  todos[1]->categories.add(work);
  s.commit();
  CHECK(fx.count("todo_categories") == 3);
  CHECK(fx.count("categories") == 2);

  auto s2 = fx.session();
  auto loaded =
      s2.execute(select<Todo>().order_by(col<&Todo::id>).options(selectin(&Todo::categories)));
  REQUIRE(loaded[0]->categories.size() == 2);
  REQUIRE(loaded[1]->categories.size() == 1);
  CHECK(loaded[1]->categories.begin()->get()->name == "work");
  CHECK(s2.count(select<Todo>().where(has(&Todo::categories, col<&Category::name> == "home"))) ==
        1);
  auto home_again = loaded[0]->categories.items()[1];
  loaded[0]->categories.remove(home_again);
  s2.commit();
  CHECK(fx.count("todo_categories") == 2);
  CHECK(fx.count("categories") == 2);  // removing from the collection keeps the category
}

TEST_CASE("a large collection's orphans and many-to-many changes are found at flush",
          "[relations]") {
  test::SessionFixture fx;
  const auto users = seed(fx, 1, 3000);
  fx.db.conn().exec(
      "INSERT INTO categories (name, slug) SELECT 'c' || g, 'slug' || g FROM generate_series(1, "
      "40) g");
  const auto first_todo = fx.db.scalar<std::int32_t>("SELECT min(id) FROM todos");
  fx.db.conn().exec(
      "INSERT INTO todo_categories (todo_id, category_id) SELECT $1, id FROM categories",
      first_todo);
  auto s = fx.session();
  auto user = s.execute(select<User>().options(selectin(&User::todos))).at(0);
  REQUIRE(user->todos.size() == 3000);
  // Nothing changed: the flush sends nothing.
  auto statements = s.statements_executed();
  s.commit();
  CHECK(s.statements_executed() == statements);

  auto orphan_a = user->todos[10];
  auto orphan_b = user->todos[2500];
  user->todos.remove(orphan_a);
  user->todos.remove(orphan_b);
  auto added = std::make_shared<Todo>();
  added->title = "added to a large collection";
  user->todos.add(added);
  auto todo =
      s.execute(
           select<Todo>().where(col<&Todo::id> == first_todo).options(selectin(&Todo::categories)))
          .at(0);
  REQUIRE(todo->categories.size() == 40);
  std::vector<std::int32_t> dropped;
  for (int i : {3, 17, 39}) dropped.push_back(todo->categories[static_cast<std::size_t>(i)]->id);
  for (auto id : dropped) {
    auto it = std::find_if(todo->categories.begin(), todo->categories.end(),
                           [&](const auto& c) { return c->id == id; });
    REQUIRE(it != todo->categories.end());
    auto category = *it;
    todo->categories.remove(category);
  }
  auto fresh = std::make_shared<Category>();
  fresh->name = "fresh";
  fresh->slug = "fresh-slug";
  todo->categories.add(fresh);
  s.commit();

  // Two orphans soft-deleted (delete-orphan), the rest untouched, the new one inserted.
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE user_id = $1 AND deleted_at IS NULL", users[0]) ==
        2999);
  for (const auto& gone : {orphan_a, orphan_b})
    CHECK(fx.db.scalar<bool>("SELECT deleted_at IS NOT NULL FROM todos WHERE id = $1", gone->id));
  CHECK(added->id > 0);
  CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE id = $1", added->id) ==
        users[0]);
  // Association rows: 40 - 3 + 1.
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todo_categories WHERE todo_id = $1",
                                   first_todo) == 38);
  for (auto id : dropped)
    CHECK(fx.db.scalar<std::int64_t>(
              "SELECT count(*) FROM todo_categories WHERE todo_id = $1 AND category_id = $2",
              first_todo, id) == 0);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todo_categories WHERE todo_id = $1 AND category_id = $2",
            first_todo, fresh->id) == 1);
}

TEST_CASE("thousands of children added, moved, taken out and deleted one at a time",
          "[relations]") {
  // Past 64 members a collection looks members up in an index: every step below runs on it.
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = std::make_shared<User>();
  user->email = "many@example.com";
  std::vector<std::shared_ptr<Todo>> todos;
  for (int i = 0; i < 2000; ++i) {
    auto todo = std::make_shared<Todo>();
    todo->title = "todo " + std::to_string(i);
    user->todos.add(todo);
    todos.push_back(std::move(todo));
  }
  user->todos.add(todos[5]);  // already held: nothing changes
  user->todos.add(todos[1999]);
  REQUIRE(user->todos.size() == 2000);
  s.add(user);
  s.commit();
  REQUIRE(user->id > 0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", user->id) ==
        2000);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(DISTINCT title) FROM todos") == 2000);
  for (const auto& todo : todos) REQUIRE(todo->user.get() == user);

  // Every even todo moves to another user through its many-to-one side.
  auto other = s.add(User{});
  other->email = "other-many@example.com";
  s.flush();
  s.load(other, &User::todos);
  for (std::size_t i = 0; i < todos.size(); i += 2) todos[i]->user = other;
  CHECK(user->todos.size() == 1000);
  CHECK(other->todos.size() == 1000);
  // Each collection knows what left it and what joined: a move back and forth, a re-add, and
  // taking out an object that is not a member change nothing else.
  todos[0]->user = user;
  CHECK(user->todos.size() == 1001);
  CHECK(other->todos.size() == 999);
  user->todos.add(todos[0]);
  CHECK(user->todos.size() == 1001);
  todos[0]->user = other;
  CHECK(user->todos.size() == 1000);
  CHECK(other->todos.size() == 1000);
  other->todos.remove(todos[1]);
  CHECK(other->todos.size() == 1000);
  CHECK(todos[1]->user.get() == user);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE user_id = $1", other->id) ==
        1000);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE user_id = $1 AND right(title, 1) IN ('1', '3', '5', "
            "'7', '9')",
            user->id) == 1000);

  // Emptied from the back: each a delete-orphan, soft-deleted.
  other->todos.clear();
  CHECK(other->todos.empty());
  // The first 300 of the other collection taken out: also orphans.
  for (std::size_t i = 1; i < 600; i += 2) user->todos.remove(todos[i]);
  CHECK(user->todos.size() == 700);
  user->todos.remove(todos[1]);  // no longer a member: nothing happens
  CHECK(user->todos.size() == 700);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE deleted_at IS NOT NULL") ==
        1300);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE user_id = $1 AND deleted_at IS NULL", user->id) ==
        700);

  // Deleted through the session, one call each: the flush takes them all out of the collection.
  std::set<std::int32_t> kept;
  for (std::size_t i = 601; i < todos.size(); i += 2) {
    if (i % 4 == 1)
      s.remove(todos[i]);
    else
      kept.insert(todos[i]->id);
  }
  REQUIRE(kept.size() == 350);
  CHECK(user->todos.size() == 700);
  s.commit();
  CHECK(user->todos.size() == 350);
  std::set<std::int32_t> held;
  for (const auto& todo : user->todos) held.insert(todo->id);
  CHECK(held == kept);
  // What is left is still looked up correctly: a re-add changes nothing, a deleted one is gone.
  const auto last = *std::find_if(todos.rbegin(), todos.rend(),
                                  [&](const auto& t) { return kept.count(t->id) > 0; });
  user->todos.add(last);
  CHECK(user->todos.size() == 350);
  user->todos.remove(todos[601]);  // deleted by the flush: not a member
  CHECK(user->todos.size() == 350);
  const auto alive = fx.db.conn().query<std::int32_t>(
      "SELECT id FROM todos WHERE user_id = $1 AND deleted_at IS NULL", user->id);
  CHECK(std::set<std::int32_t>(alive.begin(), alive.end()) == kept);
}

TEST_CASE("a nested path loads one query per level", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 2, 2);
  fx.db.conn().exec("INSERT INTO categories (name, slug) VALUES ('a', 'a-slug')");
  fx.db.conn().exec(
      "INSERT INTO todo_categories (todo_id, category_id) SELECT id, (SELECT id FROM categories) "
      "FROM todos");
  auto s = fx.session();
  auto before = s.statements_executed();
  auto users = s.execute(select<User>().options(selectin(&User::todos, &Todo::categories)));
  CHECK(s.statements_executed() - before == 3);
  for (const auto& u : users)
    for (const auto& t : u->todos) CHECK(t->categories.size() == 1);
}

TEST_CASE("has() filters on a relationship as EXISTS", "[relations]") {
  test::SessionFixture fx;
  auto ids = seed(fx, 3, 1);
  fx.db.conn().exec("UPDATE todos SET status = 'completed' WHERE user_id = $1", ids[1]);
  auto s = fx.session();
  auto pending = s.execute(select<User>()
                               .where(has(&User::todos, col<&Todo::status> == TodoStatus::pending))
                               .order_by(col<&User::id>));
  REQUIRE(pending.size() == 2);
  CHECK(pending[0]->id == ids[0]);
  CHECK(pending[1]->id == ids[2]);
  fx.insert_user("lonely@example.com");
  CHECK(s.count(select<User>().where(!has(&User::todos))) == 1);
}

TEST_CASE("join along a relationship", "[relations]") {
  test::SessionFixture fx;
  seed(fx, 2, 2);
  auto s = fx.session();
  auto todos =
      s.execute(select<Todo>().join(&Todo::user).where(col<&User::email> == "user2@example.com"));
  CHECK(todos.size() == 2);
  auto users = s.execute(select<User>().join(&User::todos).where(col<&Todo::title> == "todo 1.1"));
  CHECK(users.size() == 1);
}

TEST_CASE("two foreign keys to one table stay apart", "[relations]") {
  test::SessionFixture fx;
  Metadata::of<rel::Writer, rel::Article>().create_all(fx.db.conn());
  auto s = fx.session();
  auto ann = std::make_shared<rel::Writer>();
  ann->name = "ann";
  auto bob = std::make_shared<rel::Writer>();
  bob->name = "bob";
  auto article = std::make_shared<rel::Article>();
  article->title = "on pools";
  article->author = ann;
  article->reviewer = bob;
  s.add(article);  // both writers come along through the many-to-one side
  s.commit();
  CHECK(fx.db.scalar<std::int32_t>("SELECT author_id FROM articles") == ann->id);
  CHECK(fx.db.scalar<std::int32_t>("SELECT reviewer_id FROM articles") == bob->id);
  auto s2 = fx.session();
  auto writers =
      s2.execute(select<rel::Writer>()
                     .order_by(col<&rel::Writer::name>)
                     .options(selectin(&rel::Writer::written), selectin(&rel::Writer::reviewed)));
  REQUIRE(writers.size() == 2);
  CHECK(writers[0]->written.size() == 1);
  CHECK(writers[0]->reviewed.empty());
  CHECK(writers[1]->written.empty());
  CHECK(writers[1]->reviewed.size() == 1);
}

TEST_CASE("loading a member missing from the model's relationships is refused", "[relations]") {
  test::SessionFixture fx;
  Metadata::of<rel::Shelf>().create_all(fx.db.conn());
  fx.db.conn().exec("INSERT INTO shelves (name) VALUES ('top')");
  const auto refused = Catch::Contains("not listed in its model's relationships");
  auto s = fx.session();
  auto with_todos = select<rel::Shelf>().options(selectin(&rel::Shelf::todos));
  CHECK_THROWS_AS(s.execute(with_todos), InterfaceError);
  CHECK_THROWS_WITH(s.execute(with_todos), refused);
  CHECK_THROWS_AS(select<rel::Shelf>().options(joined(&rel::Shelf::todos)), InterfaceError);
  CHECK_THROWS_WITH(select<rel::Shelf>().options(joined(&rel::Shelf::todos)), refused);
  auto shelves = s.execute(select<rel::Shelf>());
  REQUIRE(shelves.size() == 1);
  CHECK_THROWS_AS(s.load(shelves, &rel::Shelf::todos), InterfaceError);
  CHECK_THROWS_WITH(s.load(shelves, &rel::Shelf::todos), refused);
  // Read from the database, the member is not loaded (never "empty"), tracked or not.
  const auto never_loaded = Catch::Contains("missing from its model's relationships");
  CHECK_FALSE(shelves[0]->todos.loaded());
  CHECK_THROWS_AS(shelves[0]->todos.size(), NotLoaded);
  CHECK_THROWS_WITH(shelves[0]->todos.size(), never_loaded);
  auto by_key = s.get<rel::Shelf>(shelves[0]->id);
  REQUIRE(by_key == shelves[0]);
  s.expunge(shelves[0]);
  auto fresh = s.get<rel::Shelf>(shelves[0]->id);
  REQUIRE(fresh);
  CHECK(fresh != shelves[0]);
  CHECK_THROWS_AS(fresh->todos.size(), NotLoaded);
  auto values = s.values(select<rel::Shelf>());
  REQUIRE(values.size() == 1);
  CHECK(values[0].name == "top");
  CHECK_THROWS_AS(values[0].todos.size(), NotLoaded);
  std::size_t streamed = 0;
  for (const auto& shelf : s.stream(select<rel::Shelf>())) {
    CHECK_THROWS_AS(shelf->todos.size(), NotLoaded);
    ++streamed;
  }
  CHECK(streamed == 1);
  // A new object's member is known: empty, and usable.
  rel::Shelf made;
  CHECK(made.todos.loaded());
  CHECK(made.todos.empty());
}

TEST_CASE("two joined collections of one model hold each member once", "[relations]") {
  // Joining both collections repeats each written article once per reviewed one and back.
  test::SessionFixture fx;
  Metadata::of<rel::Writer, rel::Article>().create_all(fx.db.conn());
  fx.db.conn().exec("INSERT INTO writers (name) VALUES ('ann'), ('bob')");
  fx.db.conn().exec(
      "INSERT INTO articles (title, author_id, reviewer_id) SELECT 'a' || g, "
      "(SELECT id FROM writers WHERE name = 'ann'), (SELECT id FROM writers WHERE name = 'bob') "
      "FROM generate_series(1, 3) g");
  fx.db.conn().exec(
      "INSERT INTO articles (title, author_id, reviewer_id) SELECT 'b' || g, "
      "(SELECT id FROM writers WHERE name = 'bob'), (SELECT id FROM writers WHERE name = 'ann') "
      "FROM generate_series(1, 4) g");
  auto ids = [&](std::string_view column, std::int32_t writer) {
    return fx.db.conn().query<std::int32_t>(
        fmt::format("SELECT id FROM articles WHERE {} = $1 ORDER BY id", column), writer);
  };
  auto sorted_ids = [](const auto& collection) {
    std::vector<std::int32_t> out;
    for (const auto& a : collection) out.push_back(a->id);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto s = fx.session();
  auto writers =
      s.execute(select<rel::Writer>()
                    .order_by(col<&rel::Writer::name>)
                    .options(joined(&rel::Writer::written), joined(&rel::Writer::reviewed)));
  REQUIRE(writers.size() == 2);
  for (const auto& w : writers) {
    INFO(w->name);
    CHECK(sorted_ids(w->written) == ids("author_id", w->id));
    CHECK(sorted_ids(w->reviewed) == ids("reviewer_id", w->id));
  }
  CHECK(writers[0]->written.size() == 3);
  CHECK(writers[0]->reviewed.size() == 4);
}

TEST_CASE("a collection of thousands of members loads each once, by every strategy",
          "[relations]") {
  test::SessionFixture fx;
  const auto users = seed(fx, 2, 3000);
  const auto expected = [&](std::int32_t user) {
    auto ids = fx.db.conn().query<std::int32_t>(
        "SELECT id FROM todos WHERE user_id = $1 ORDER BY id", user);
    REQUIRE(ids.size() == 3000);
    return ids;
  };
  const auto held = [](const User& u) {
    std::vector<std::int32_t> ids;
    for (const auto& t : u.todos) ids.push_back(t->id);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  for (int strategy = 0; strategy < 3; ++strategy) {
    INFO("strategy " << strategy);
    auto s = fx.session();
    auto q = select<User>().order_by(col<&User::id>);
    std::vector<std::shared_ptr<User>> loaded;
    if (strategy == 0) loaded = s.execute(q.options(selectin(&User::todos)));
    if (strategy == 1) loaded = s.execute(q.options(joined(&User::todos)));
    if (strategy == 2) {
      loaded = s.execute(q);
      s.load(loaded, &User::todos);
    }
    REQUIRE(loaded.size() == 2);
    for (std::size_t i = 0; i < loaded.size(); ++i) {
      CHECK(loaded[i]->id == users[i]);
      CHECK(held(*loaded[i]) == expected(users[i]));
    }
  }
}

TEST_CASE("passive deletes leave the children to ON DELETE CASCADE", "[relations]") {
  test::SessionFixture fx;
  Metadata::of<rel::Writer, rel::Article>().create_all(fx.db.conn());
  fx.db.conn().exec("INSERT INTO writers (name) VALUES ('ann')");
  fx.db.conn().exec(
      "INSERT INTO articles (title, author_id) SELECT 'a' || g, (SELECT id FROM writers) "
      "FROM generate_series(1, 5) g");
  auto s = fx.session();
  auto ann = s.one(select<rel::Writer>());
  auto before = s.statements_executed();
  s.remove(ann);
  s.commit();
  CHECK(s.statements_executed() - before == 3);  // BEGIN, DELETE, COMMIT: no SELECT of articles
  CHECK(fx.count("articles") == 0);
}

TEST_CASE("a parent and its children never keep each other alive", "[relations]") {
  test::SessionFixture fx;
  fx.insert_users_with_todos(2, 3);
  std::weak_ptr<User> user_left;
  std::weak_ptr<Todo> todo_left;
  std::shared_ptr<Todo> kept_todo;
  {
    auto s = fx.session();
    auto users = s.execute(select<User>().order_by(col<&User::id>).options(selectin(&User::todos)));
    REQUIRE(users.size() == 2);
    REQUIRE(users[0]->todos.size() == 3);
    CHECK(users[0]->todos[0]->user.get() == users[0]);  // back_populates, both directions
    user_left = users[0];
    todo_left = users[0]->todos[1];
    kept_todo = users[1]->todos[0];
  }
  // The session and the users are gone: so are their todos, nothing leaks through the cycle.
  CHECK(user_left.expired());
  CHECK(todo_left.expired());
  // A todo kept alone no longer reaches its user through the back reference: a typed error.
  REQUIRE(kept_todo);
  CHECK(kept_todo->title.rfind("todo ", 0) == 0);
  CHECK_THROWS_AS(kept_todo->user.get(), NotLoaded);
}

TEST_CASE("a many-to-one loaded on its own owns its target", "[relations]") {
  test::SessionFixture fx;
  fx.insert_users_with_todos(2, 2);
  std::vector<std::shared_ptr<Todo>> todos;
  {
    auto s = fx.session();
    todos = s.execute(select<Todo>().order_by(col<&Todo::id>).options(selectin(&Todo::user)));
  }
  REQUIRE(todos.size() == 4);
  for (const auto& t : todos) {
    REQUIRE(t->user);
    CHECK(t->user->id == t->user_id);
    CHECK(t->user->email ==
          fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", t->user_id));
  }
}

TEST_CASE("setting a many-to-one into a loaded collection does not make a cycle", "[relations]") {
  test::SessionFixture fx;
  std::weak_ptr<User> user_left;
  std::weak_ptr<Todo> todo_left;
  {
    auto s = fx.session();
    User u;
    u.email = "owner@example.com";
    auto user = s.add(std::move(u));
    Todo t;
    t.title = "owned";
    auto todo = s.add(std::move(t));
    todo->user = user;  // back_populates: user->todos (known empty) now holds the todo
    REQUIRE(user->todos.size() == 1);
    CHECK(user->todos[0] == todo);
    s.commit();
    CHECK(fx.db.scalar<std::int32_t>("SELECT user_id FROM todos WHERE title = 'owned'") ==
          user->id);
    user_left = user;
    todo_left = todo;
  }
  CHECK(user_left.expired());
  CHECK(todo_left.expired());
}
