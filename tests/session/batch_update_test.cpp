// A flush UPDATE of many objects that change the same columns is one statement:
//   UPDATE t SET ... FROM unnest($1::key[], ...) WITH ORDINALITY ... RETURNING every column
// Every row must be read back into its own object, a row missing from the result (deleted
// elsewhere, another version) fails the whole flush with nothing written, and the cases the
// statement cannot carry (a key that changes, a lone object) keep one UPDATE per object.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

using test::recording;

namespace batch {

struct Document : pgorm::Model<Document, pgorm::Versioned, pgorm::TableName<"batch_documents">> {
  std::string title;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Document::title>());
};

// A table whose name is the batched UPDATE's usual alias for its arrays.
struct Aliased : pgorm::Model<Aliased, pgorm::TableName<"pgorm_v">> {
  std::string n;  // and a column named as the ordinal
  static constexpr auto columns = pgorm::columns(pgorm::column<&Aliased::n>());
};

}  // namespace batch

namespace {

std::size_t count_containing(const std::vector<std::string>& sent, std::string_view prefix,
                             std::string_view part) {
  return static_cast<std::size_t>(std::count_if(sent.begin(), sent.end(), [&](const auto& q) {
    return q.rfind(prefix, 0) == 0 && q.find(part) != std::string::npos;
  }));
}

using Stored = std::tuple<std::int32_t, std::string, std::optional<std::string>>;

// `n` todos of one new user, inserted directly.
void insert_todos(test::SessionFixture& fx, int n) {
  auto uid = fx.insert_user("owner@example.com");
  for (int i = 0; i < n; ++i) fx.insert_todo(uid, fmt::format("todo {}", i));
}

// Three new objects of T with `Member` set to "<label> 0", "<label> 1", "<label> 2", committed.
template <class T, auto Member>
std::vector<std::shared_ptr<T>> add_three(Session& s, std::string_view label) {
  std::vector<T> objects(3);
  for (int i = 0; i < 3; ++i) objects[i].*Member = fmt::format("{} {}", label, i);
  auto added = s.add_all(objects);
  s.commit();
  return added;
}

std::vector<Stored> stored_todos(test::SessionFixture& fx) {
  return fx.db.conn().query<Stored>("SELECT id, title, description FROM todos ORDER BY id");
}

}  // namespace

TEST_CASE("many objects changing the same columns are one UPDATE, every row read back",
          "[session][batch_update]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  insert_todos(fx, 40);
  fx.db.conn().exec("UPDATE todos SET description = 'before'");  // every description changes
  const std::vector<std::string> titles = {"plain", "quote\"d", "back\\slash", "{brace}", "NULL",
                                           "",      "comma,here", "tab\there", "ünïcode ✓"};
  auto s = fx.session();
  auto todos = s.execute(select<Todo>().order_by(col<&Todo::id>));
  REQUIRE(todos.size() == 40);
  std::vector<Timestamp> loaded_at;
  std::vector<Stored> expected;
  for (std::size_t i = 0; i < todos.size(); ++i) {
    auto& t = todos[i];
    loaded_at.push_back(t->updated_at);
    // Each title once as it is ("", "NULL", ...), then numbered.
    t->title = titles[i % titles.size()];
    if (i >= titles.size()) t->title += " " + std::to_string(i);
    if (i % 3 == 0)
      t->description = std::nullopt;
    else
      t->description = i % 2 ? "NULL" : "\"quoted\" and \\";
    expected.emplace_back(t->id, t->title, t->description);
  }
  sent.clear();
  s.commit();
  CHECK(count_containing(sent, "UPDATE \"todos\"", "FROM unnest(") == 1);
  CHECK(count_containing(sent, "UPDATE \"todos\"", "") == 1);
  CHECK(stored_todos(fx) == expected);
  // The server's updated_at = now() came back into each object.
  for (std::size_t i = 0; i < todos.size(); ++i) {
    const auto& t = todos[i];
    CHECK(t->updated_at > loaded_at[i]);
    CHECK(t->updated_at ==
          fx.db.scalar<Timestamp>("SELECT updated_at FROM todos WHERE id = $1", t->id));
  }
  // The snapshots took the written values: nothing is dirty any more.
  sent.clear();
  s.commit();
  CHECK(count_containing(sent, "UPDATE", "") == 0);
}

TEST_CASE("objects changing different columns: one UPDATE per set of columns",
          "[session][batch_update]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  insert_todos(fx, 6);
  auto s = fx.session();
  auto todos = s.execute(select<Todo>().order_by(col<&Todo::id>));
  REQUIRE(todos.size() == 6);
  for (int i : {0, 1, 2}) todos[i]->title = fmt::format("title {}", i);
  for (int i : {3, 4}) todos[i]->description = fmt::format("description {}", i);
  todos[5]->title = "both";  // alone with this set of columns: an UPDATE of its own
  todos[5]->status = TodoStatus::archived;
  sent.clear();
  s.commit();
  CHECK(count_containing(sent, "UPDATE \"todos\" SET \"title\" = \"pgorm_v\"", "unnest(") == 1);
  CHECK(count_containing(sent, "UPDATE \"todos\" SET \"description\" = \"pgorm_v\"", "unnest(") ==
        1);
  CHECK(count_containing(sent, "UPDATE \"todos\" SET \"title\" = $1, \"status\" = $2", "") == 1);
  CHECK(count_containing(sent, "UPDATE", "") == 3);
  std::vector<Stored> expected;
  for (const auto& t : todos) expected.emplace_back(t->id, t->title, t->description);
  CHECK(stored_todos(fx) == expected);
  CHECK(fx.db.scalar<std::string>("SELECT status::text FROM todos WHERE id = $1", todos[5]->id) ==
        "archived");
}

TEST_CASE("a row of the batch deleted elsewhere fails the flush naming its key, nothing written",
          "[session][batch_update][failure]") {
  test::SessionFixture fx;
  insert_todos(fx, 5);
  auto s = fx.session();
  auto todos = s.execute(select<Todo>().order_by(col<&Todo::id>));
  REQUIRE(todos.size() == 5);
  const auto before = stored_todos(fx);
  const std::int32_t gone = todos[2]->id;
  fx.db.conn().exec("DELETE FROM todos WHERE id = $1", gone);
  for (auto& t : todos) t->title += " changed";
  test::new_user(s, "bystander@example.com");  // in the same flush: not written either
  try {
    s.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "todos");
    CHECK_THAT(e.what(), Catch::Contains(fmt::format("id={}", gone)));
  }
  CHECK_FALSE(s.in_transaction());
  auto expected = before;
  expected.erase(expected.begin() + 2);
  CHECK(stored_todos(fx) == expected);
  CHECK(fx.count("users") == 1);
}

TEST_CASE("a trigger that rewrites rows on update: each object gets what its row holds",
          "[session][batch_update]") {
  test::SessionFixture fx;
  fx.db.conn().execute_script(R"sql(
    CREATE FUNCTION batch_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.title := upper(NEW.title) || ' #' || NEW.id;
        NEW.description := coalesce(NEW.description, 'was null');
        RETURN NEW;
      END $$;
    CREATE TRIGGER batch_rewrite BEFORE UPDATE ON todos
      FOR EACH ROW EXECUTE FUNCTION batch_rewrite();
  )sql");
  insert_todos(fx, 8);
  auto s = fx.session();
  auto todos = s.execute(select<Todo>().order_by(col<&Todo::id>.desc()));
  REQUIRE(todos.size() == 8);
  for (auto& t : todos) t->title = "new " + std::to_string(t->id);
  s.commit();
  for (const auto& t : todos) {
    CHECK(t->title == fmt::format("NEW {} #{}", t->id, t->id));
    CHECK(t->description == "was null");
  }
  std::vector<Stored> expected;
  for (auto it = todos.rbegin(); it != todos.rend(); ++it)
    expected.emplace_back((*it)->id, (*it)->title, (*it)->description);
  CHECK(stored_todos(fx) == expected);
}

TEST_CASE("a changed key keeps its own UPDATE, and the identity map follows it",
          "[session][batch_update]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  auto s = fx.session();
  std::vector<User> users(4);
  for (int i = 0; i < 4; ++i) users[i].email = fmt::format("u{}@example.com", i);
  auto added = s.add_all(users);
  s.commit();
  const std::int32_t old_ids[] = {added[0]->id, added[1]->id};
  // Two objects change their keys (and the same other column): one UPDATE each.
  added[0]->id = 9000;
  added[1]->id = 9001;
  for (int i : {0, 1, 2, 3}) added[i]->email = fmt::format("changed{}@example.com", i);
  sent.clear();
  s.commit();
  CHECK(count_containing(sent, "UPDATE \"users\"", "unnest(") == 1);  // the two others
  CHECK(count_containing(sent, "UPDATE", "") == 3);
  CHECK(s.get<User>(9000) == added[0]);
  CHECK(s.get<User>(9001) == added[1]);
  for (std::int32_t old_id : old_ids) CHECK(s.get<User>(old_id) == nullptr);
  for (const auto& u : added)
    CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", u->id) == u->email);
  CHECK(fx.count("users") == 4);
}

TEST_CASE("versioned objects in one UPDATE: each version checked and bumped",
          "[session][batch_update][failure]") {
  using batch::Document;
  test::SessionFixture fx;
  Metadata::of<Document>().create_all(fx.db.conn());
  using Row = std::tuple<std::int32_t, std::string, std::int32_t>;
  auto stored = [&]() {
    return fx.db.conn().query<Row>("SELECT id, title, version FROM batch_documents ORDER BY id");
  };
  auto s = fx.session();
  auto added = add_three<Document, &Document::title>(s, "draft");
  for (auto& d : added) d->title += " edited";
  s.commit();
  std::vector<Row> expected;
  for (const auto& d : added) {
    CHECK(d->version == 2);
    expected.emplace_back(d->id, d->title, 2);
  }
  CHECK(stored() == expected);

  // Another session bumps the middle one: the whole batch must fail, nothing written.
  fx.db.conn().exec("UPDATE batch_documents SET title = 'elsewhere', version = 3 WHERE id = $1",
                    added[1]->id);
  std::get<1>(expected[1]) = "elsewhere";
  std::get<2>(expected[1]) = 3;
  for (auto& d : added) d->title += " again";
  try {
    s.commit();
    FAIL("expected a StaleDataError");
  } catch (const StaleDataError& e) {
    CHECK(e.table() == "batch_documents");
    CHECK_THAT(e.what(), Catch::Contains(fmt::format("id={}", added[1]->id)));
  }
  CHECK(stored() == expected);
}

TEST_CASE("a batch UPDATE inside a savepoint that is rolled back: objects get their values back",
          "[session][batch_update][failure]") {
  test::SessionFixture fx;
  insert_todos(fx, 5);
  auto s = fx.session();
  auto tx = s.begin();
  auto todos = s.execute(select<Todo>().order_by(col<&Todo::id>));
  REQUIRE(todos.size() == 5);
  const auto before = stored_todos(fx);
  {
    auto sp = s.begin_nested();
    for (auto& t : todos) t->title = "inside " + std::to_string(t->id);
    s.flush();
    CHECK(todos[0]->title == "inside " + std::to_string(todos[0]->id));
    sp.rollback();
  }
  for (std::size_t i = 0; i < todos.size(); ++i) CHECK(todos[i]->title == std::get<1>(before[i]));
  tx.commit();
  CHECK(stored_todos(fx) == before);
}

TEST_CASE("add_all of many objects: one added twice is inserted once, removed ones not at all",
          "[session][batch_update]") {
  test::SessionFixture fx;
  auto s = fx.session();
  std::vector<User> users(40);
  for (int i = 0; i < 40; ++i) users[i].email = fmt::format("many{}@example.com", i);
  auto added = s.add_all(users);
  CHECK(s.add(added[7]) == added[7]);  // already pending: not a second row
  CHECK(s.contains(added[39]));
  s.remove(added[5]);
  s.expunge(added[6]);
  CHECK_FALSE(s.contains(added[5]));
  CHECK_FALSE(s.contains(added[6]));
  CHECK(s.contains(added[7]));
  // Down to a few pending again: membership still right.
  for (int i = 8; i < 39; ++i) s.expunge(added[i]);
  CHECK(s.contains(added[39]));
  CHECK_FALSE(s.contains(added[20]));
  s.commit();
  CHECK(fx.count("users") == 7);  // 0-4, 7, 39
  for (int i : {0, 1, 2, 3, 4, 7, 39})
    CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", added[i]->id) ==
          users[i].email);
  const auto removed = fx.db.scalar<std::int64_t>(
      "SELECT count(*) FROM users WHERE email IN ('many5@example.com', 'many6@example.com')");
  CHECK(removed == 0);
}

TEST_CASE("a one-row UPDATE's text is shared by fresh sessions, the values their own",
          "[session][batch_update]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  const auto id = fx.insert_todo(fx.insert_user("owner@example.com"), "start");
  // (new title, new description): an empty optional leaves that column unchanged.
  using Change = std::pair<std::optional<std::string>, std::optional<std::string>>;
  const std::vector<Change> changes = {{"title 1", std::nullopt},
                                       {std::nullopt, "described 2"},
                                       {"title 3", std::nullopt},
                                       {"title 4", "described 4"},
                                       {std::nullopt, "described 5"}};
  std::vector<std::string> texts;
  for (const auto& [title, description] : changes) {
    auto s = fx.session();
    auto todo = s.get<Todo>(id);
    REQUIRE(todo);
    if (title) todo->title = *title;
    if (description) todo->description = *description;
    sent.clear();
    s.commit();
    REQUIRE(count_containing(sent, "UPDATE", "") == 1);
    texts.push_back(*std::find_if(sent.begin(), sent.end(),
                                  [](const std::string& q) { return q.starts_with("UPDATE"); }));
    const auto [stored_title, stored_description] =
        fx.db.conn()
            .query<std::tuple<std::string, std::optional<std::string>>>(
                "SELECT title, description FROM todos WHERE id = $1", id)
            .at(0);
    CHECK(stored_title == todo->title);
    CHECK(stored_description == todo->description);
  }
  CHECK(texts[0] == texts[2]);  // the title alone
  CHECK(texts[1] == texts[4]);  // the description alone
  CHECK(texts[0] != texts[1]);
  CHECK(texts[3] != texts[0]);
  CHECK(texts[3] != texts[1]);
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", id) == "title 4");
  CHECK(fx.db.scalar<std::string>("SELECT description FROM todos WHERE id = $1", id) ==
        "described 5");
}

TEST_CASE("removing a stored object while many are pending deletes it and inserts the rest",
          "[session][batch_update]") {
  test::SessionFixture fx;
  const auto kept = fx.insert_user("kept@example.com");
  const auto gone = fx.insert_user("gone@example.com");
  auto s = fx.session();
  std::vector<User> users(40);
  for (int i = 0; i < 40; ++i) users[i].email = fmt::format("pending{}@example.com", i);
  auto added = s.add_all(users);
  auto stored = s.get<User>(gone);
  REQUIRE(stored);
  s.remove(stored);  // not pending: the session deletes its row
  CHECK(s.contains(added[0]));
  s.commit();
  CHECK(fx.count("users") == 41);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id = $1", gone) == 0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id = $1", kept) == 1);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM users WHERE email LIKE 'pending%@example.com'") == 40);
}

TEST_CASE("more objects than one batched UPDATE carries: split, every row written",
          "[session][batch_update]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  fx.db.conn().exec(
      "INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, "
      "10001) g");
  auto s = fx.session();
  auto users = s.execute(select<User>());
  REQUIRE(users.size() == 10001);
  for (auto& u : users) u->email = "changed." + u->email;
  sent.clear();
  s.commit();
  // 10,000 in one statement; the one left over alone.
  CHECK(count_containing(sent, "UPDATE \"users\"", "unnest(") == 1);
  CHECK(count_containing(sent, "UPDATE", "") == 2);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email LIKE 'changed.user%'") ==
        10001);
}

TEST_CASE("a table named as the batch's alias, with a column named as its ordinal",
          "[session][batch_update]") {
  using batch::Aliased;
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  Metadata::of<Aliased>().create_all(fx.db.conn());
  auto s = fx.session();
  auto added = add_three<Aliased, &Aliased::n>(s, "row");
  for (auto& a : added) a->n += " changed";
  sent.clear();
  s.commit();
  CHECK(count_containing(sent, "UPDATE \"pgorm_v\"", "unnest(") == 1);
  for (const auto& a : added) {
    CHECK(a->n.find(" changed") != std::string::npos);
    CHECK(fx.db.scalar<std::string>("SELECT n FROM pgorm_v WHERE id = $1", a->id) == a->n);
  }
}
