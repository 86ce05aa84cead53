#include <catch2/catch.hpp>

#include <algorithm>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

// Two users; alice has 5 todos (2 completed, 1 soft-deleted pending), bob has 1.
struct Seeded : test::SessionFixture {
  std::int32_t alice, bob;
  Seeded() {
    alice = insert_user("alice@example.com");
    bob = insert_user("bob@example.com");
    insert_todo(alice, "Buy milk");
    insert_todo(alice, "Buy MILK chocolate", "completed");
    insert_todo(alice, "Write report", "completed");
    insert_todo(alice, "Call mom");
    auto deleted = insert_todo(alice, "Old milk");
    db.conn().exec("UPDATE todos SET deleted_at = now() WHERE id = $1", deleted);
    insert_todo(bob, "Walk dog", "archived");
  }
  std::vector<std::string> titles(Session& s, const auto& query) {
    std::vector<std::string> out;
    for (const auto& t : s.execute(query)) out.push_back(t->title);
    return out;
  }
};

using Titles = std::vector<std::string>;

}  // namespace

TEST_CASE("comparison operators filter rows on the server", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto by_title = [](auto q) { return q.order_by(col<&Todo::title>); };
  CHECK(fx.titles(s, by_title(select<Todo>().where(col<&Todo::status> == TodoStatus::completed))) ==
        Titles{"Buy MILK chocolate", "Write report"});
  CHECK(fx.titles(s, by_title(select<Todo>().where(col<&Todo::status> != TodoStatus::pending))) ==
        Titles{"Buy MILK chocolate", "Walk dog", "Write report"});
  auto ids = s.values(select(col<&Todo::id>).order_by(col<&Todo::id>));
  REQUIRE(ids.size() == 5);
  CHECK(s.count(select<Todo>().where(col<&Todo::id> < ids[2])) == 2);
  CHECK(s.count(select<Todo>().where(col<&Todo::id> <= ids[2])) == 3);
  CHECK(s.count(select<Todo>().where(col<&Todo::id> > ids[2])) == 2);
  CHECK(s.count(select<Todo>().where(col<&Todo::id> >= ids[2])) == 3);
  CHECK(s.count(select<Todo>().where(col<&Todo::id>.between(ids[1], ids[3]))) == 3);
}

TEST_CASE("like and ilike match text patterns", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(fx.titles(s, select<Todo>().where(col<&Todo::title>.like("%milk%"))) == Titles{"Buy milk"});
  CHECK(fx.titles(
            s, select<Todo>().where(col<&Todo::title>.ilike("%milk%")).order_by(col<&Todo::id>)) ==
        Titles{"Buy milk", "Buy MILK chocolate"});
  CHECK(s.count(select<Todo>().where(col<&Todo::title>.not_like("Buy%"))) == 3);
}

TEST_CASE("in and not_in take lists of any length", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(s.count(select<Todo>().where(
            col<&Todo::status>.in({TodoStatus::completed, TodoStatus::archived}))) == 3);
  CHECK(s.count(select<Todo>().where(col<&Todo::status>.not_in({TodoStatus::pending}))) == 3);
  CHECK(s.count(select<Todo>().where(col<&Todo::id>.in(std::vector<std::int32_t>{}))) == 0);
}

TEST_CASE("NULL tests, AND, OR and NOT combine", "[query]") {
  Seeded fx;
  fx.db.conn().exec("UPDATE todos SET description = 'note' WHERE title = 'Call mom'");
  auto s = fx.session();
  CHECK(fx.titles(s, select<Todo>().where(col<&Todo::description>.is_not_null())) ==
        Titles{"Call mom"});
  CHECK(s.count(select<Todo>().where(col<&Todo::description>.is_null())) == 4);
  CHECK(s.count(select<Todo>().where(col<&Todo::status> == TodoStatus::archived ||
                                     col<&Todo::title> == "Call mom")) == 2);
  CHECK(s.count(select<Todo>().where(!(col<&Todo::user_id> == fx.alice))) == 1);
  CHECK(s.count(select<Todo>().where(col<&Todo::user_id> == fx.alice &&
                                     col<&Todo::status> == TodoStatus::pending)) == 2);
}

TEST_CASE("soft-deleted rows are left out of selects, counts, exists and joins", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(s.count(select<Todo>()) == 5);
  CHECK(s.count(select<Todo>().with_deleted()) == 6);
  CHECK_FALSE(s.exists(select<Todo>().where(col<&Todo::title> == "Old milk")));
  CHECK(s.exists(select<Todo>().with_deleted().where(col<&Todo::title> == "Old milk")));
  CHECK(s.count(select<User>().join<Todo>().where(col<&Todo::title> == "Old milk")) == 0);
  CHECK(s.scalar(select(count()).from<Todo>()) == 5);
  CHECK(s.scalar(select(count(col<&Todo::id>))) == 5);
}

TEST_CASE("joins along foreign keys filter by the joined model", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto bobs =
      fx.titles(s, select<Todo>().join<User>().where(col<&User::email> == "bob@example.com"));
  CHECK(bobs == Titles{"Walk dog"});
  auto pairs = s.values(select(col<&User::email>, col<&Todo::title>)
                            .join<Todo>()
                            .where(col<&Todo::status> == TodoStatus::completed)
                            .order_by(col<&Todo::title>));
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0] ==
        std::tuple<std::string, std::string>{"alice@example.com", "Buy MILK chocolate"});
  // A user with no todos still appears in an outer join.
  fx.insert_user("carol@example.com");
  auto rows = s.values(select(col<&User::email>, count(col<&Todo::id>))
                           .outer_join<Todo>()
                           .group_by(col<&User::email>)
                           .order_by(col<&User::email>));
  REQUIRE(rows.size() == 3);
  CHECK(rows[2] == std::tuple<std::string, std::int64_t>{"carol@example.com", 0});
  CHECK(std::get<1>(rows[0]) == 4);
}

TEST_CASE("aggregates, group_by and having compute on the server", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto per_status = s.values(select(col<&Todo::status>, count())
                                 .group_by(col<&Todo::status>)
                                 .having(count() >= std::int64_t{2})
                                 .order_by(col<&Todo::status>));
  REQUIRE(per_status.size() == 2);
  CHECK(per_status[0] == std::tuple<TodoStatus, std::int64_t>{TodoStatus::pending, 2});
  CHECK(per_status[1] == std::tuple<TodoStatus, std::int64_t>{TodoStatus::completed, 2});
  CHECK(s.scalar(select(sum(col<&Todo::user_id>))) ==
        std::optional<std::int64_t>(4 * fx.alice + fx.bob));
  CHECK(s.scalar(select(max(col<&Todo::title>))) == std::optional<std::string>("Write report"));
  CHECK(s.scalar(select(min(col<&Todo::title>))) ==
        std::optional<std::string>("Buy MILK chocolate"));
  CHECK(s.scalar(select(avg(col<&Todo::user_id>)).where(col<&Todo::user_id> == fx.bob)) ==
        std::optional<Decimal>(Decimal(std::to_string(fx.bob))));
  CHECK_FALSE(s.scalar(select(max(col<&Todo::title>)).where(col<&Todo::id> < 0)));
  CHECK(s.values(select(col<&Todo::user_id>).distinct().order_by(col<&Todo::user_id>)) ==
        std::vector<std::int32_t>{fx.alice, fx.bob});
  CHECK(s.scalar(select(count_distinct(col<&Todo::user_id>))) == 2);
}

TEST_CASE("offset and limit page through ordered rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto page = [&](int skip, int limit) {
    return fx.titles(s, select<Todo>().order_by(col<&Todo::title>).offset(skip).limit(limit));
  };
  CHECK(page(0, 2) == Titles{"Buy MILK chocolate", "Buy milk"});
  CHECK(page(2, 2) == Titles{"Call mom", "Walk dog"});
  CHECK(page(4, 2) == Titles{"Write report"});
  CHECK(s.count(select<Todo>().offset(1).limit(2)) == 2);
}

TEST_CASE("keyset pagination continues after the last row seen", "[query]") {
  Seeded fx;
  auto s = fx.session();
  std::vector<std::int32_t> seen;
  std::int32_t last = 0;
  while (true) {
    auto page = s.execute(select<Todo>().after(col<&Todo::id>, last).limit(2));
    if (page.empty()) break;
    for (const auto& t : page) seen.push_back(t->id);
    last = page.back()->id;
  }
  CHECK(seen.size() == 5);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  auto newest_first = s.execute(select<Todo>().before(col<&Todo::id>, seen[3]).limit(10));
  REQUIRE(newest_first.size() == 3);
  CHECK(newest_first[0]->id == seen[2]);
  auto by_two = s.execute(
      select<Todo>()
          .after(std::tuple{col<&Todo::user_id>, col<&Todo::id>}, std::tuple{fx.alice, seen[1]})
          .limit(10));
  CHECK(by_two.size() == 3);
}

TEST_CASE("first, one and one_or_none check the number of rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(s.first(select<Todo>().order_by(col<&Todo::title>))->title == "Buy MILK chocolate");
  CHECK_FALSE(s.first(select<Todo>().where(col<&Todo::title> == "nothing")));
  CHECK(s.one(select<User>().where(col<&User::email> == "bob@example.com"))->id == fx.bob);
  CHECK_THROWS_AS(s.one(select<User>().where(col<&User::email> == "nobody")), NoResultFound);
  CHECK_THROWS_AS(s.one(select<User>()), MultipleResultsFound);
  CHECK_FALSE(s.one_or_none(select<User>().where(col<&User::email> == "nobody")));
  CHECK_THROWS_AS(s.one_or_none(select<User>()), MultipleResultsFound);
}

TEST_CASE("bulk update changes matching rows and bumps updated_at", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto changed = s.execute(update<Todo>()
                               .set(col<&Todo::status>, TodoStatus::archived)
                               .where(col<&Todo::user_id> == fx.alice));
  CHECK(changed == 4);  // the soft-deleted one is not touched
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE status = 'archived'") == 5);
  CHECK(
      fx.db.scalar<bool>("SELECT bool_and(updated_at > created_at) FROM todos WHERE status = "
                         "'archived' AND user_id = $1",
                         fx.alice));
  auto returned = s.execute(update<Todo>()
                                .set(col<&Todo::description>, "bulk")
                                .where(col<&Todo::title> == "Walk dog")
                                .returning());
  REQUIRE(returned.size() == 1);
  CHECK(returned[0].description == "bulk");
  s.commit();
  CHECK(s.execute(update<Todo>().set(col<&Todo::description>, std::nullopt).all_rows()) == 5);
  s.rollback();
}

TEST_CASE("bulk delete soft-deletes SoftDelete rows unless hard", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(s.execute(delete_<Todo>().where(col<&Todo::status> == TodoStatus::completed)) == 2);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos") == 6);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE deleted_at IS NULL") == 3);
  CHECK(s.execute(delete_<Todo>().hard().where(col<&Todo::user_id> == fx.bob)) == 1);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos") == 5);
}

TEST_CASE("bulk insert with on_conflict upserts and returns rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  std::vector<User> batch(3);
  batch[0].email = "alice@example.com";  // exists
  batch[1].email = "new1@example.com";
  batch[2].email = "new2@example.com";
  auto inserted =
      s.execute(insert<User>().values(batch).on_conflict<&User::email>().do_nothing().returning());
  CHECK(inserted.size() == 2);
  s.commit();
  CHECK(fx.count("users") == 4);
  CHECK(inserted[0].id > 0);
  CHECK(inserted[0].created_at.time_since_epoch().count() != 0);

  std::vector<Project> projects(1);
  projects[0].id = Uuid::v4();
  projects[0].name = "first";
  s.execute(insert<Project>().values(projects));
  projects[0].name = "renamed";
  s.execute(
      insert<Project>().values(projects).on_conflict<&Project::id>().do_update<&Project::name>());
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT name FROM projects WHERE id = $1", projects[0].id) ==
        "renamed");
}

TEST_CASE("a bare do_nothing() skips rows that conflict with any unique constraint", "[query]") {
  Seeded fx;
  auto s = fx.session();
  std::vector<User> batch(2);
  batch[0].email = "alice@example.com";  // exists
  batch[1].email = "fresh@example.com";
  auto statement = insert<User>().values(batch).do_nothing();
  CHECK(statement.to_sql().find(" ON CONFLICT DO NOTHING") != std::string::npos);
  CHECK(statement.to_sql().find("ON CONFLICT (") == std::string::npos);
  CHECK(s.execute(statement) == 1);
  auto returned = s.execute(insert<User>().values(batch).do_nothing().returning());
  CHECK(returned.empty());  // both conflict now
  s.commit();
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users ORDER BY email") ==
        std::vector<std::string>{"alice@example.com", "bob@example.com", "fresh@example.com"});
}

TEST_CASE("for_update skip locked leaves rows locked by another session alone", "[query]") {
  Seeded fx;
  auto worker1 = fx.session();
  auto worker2 = fx.session();
  auto q = select<Todo>()
               .where(col<&Todo::status> == TodoStatus::pending)
               .order_by(col<&Todo::id>)
               .limit(1)
               .for_update(query::LockMode::update_skip_locked);
  auto a = worker1.execute(q);
  auto b = worker2.execute(q);
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  CHECK(a[0]->id != b[0]->id);
  CHECK(worker1.in_transaction());
  auto nowait =
      select<Todo>().where(col<&Todo::id> == a[0]->id).for_update(query::LockMode::update_nowait);
  auto worker3 = fx.session();
  CHECK_THROWS_AS(worker3.execute(nowait), LockNotAvailable);
  worker1.rollback();
  worker2.rollback();
}

TEST_CASE("queue workers with SKIP LOCKED take disjoint jobs until none is left", "[query]") {
  Seeded fx;
  // Two workers, each taking one pending job at a time in its own transaction, interleaved.
  auto take = select<Todo>()
                  .where(col<&Todo::status> == TodoStatus::pending)
                  .order_by(col<&Todo::id>)
                  .limit(1)
                  .for_update(query::LockWait::skip_locked);
  auto w1 = fx.session();
  auto w2 = fx.session();
  std::vector<std::int32_t> taken;
  for (int round = 0; round < 10; ++round) {  // bounded: three pending jobs
    auto a = w1.execute(take);
    auto b = w2.execute(take);
    if (!a.empty()) {
      a[0]->status = TodoStatus::completed;
      taken.push_back(a[0]->id);
    }
    if (!b.empty()) {
      b[0]->status = TodoStatus::completed;
      taken.push_back(b[0]->id);
    }
    if (!a.empty() && !b.empty()) CHECK(a[0]->id != b[0]->id);
    w1.commit();
    w2.commit();
    if (a.empty() && b.empty()) break;
  }
  std::sort(taken.begin(), taken.end());
  CHECK(std::adjacent_find(taken.begin(), taken.end()) == taken.end());  // no job twice
  CHECK(taken.size() == 2);  // "Buy milk" and "Call mom" (the soft-deleted one is not a job)
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE status = 'pending' AND deleted_at IS NULL") == 0);
}

TEST_CASE("FOR NO KEY UPDATE lets other sessions add children, FOR UPDATE OF locks one table",
          "[query]") {
  Seeded fx;
  auto holder = fx.session();
  auto other = fx.session();
  auto add_todo = [&] {
    other.execute_sql("SET LOCAL lock_timeout = '300ms'");
    other.execute_sql("INSERT INTO todos (title, user_id) VALUES ('child', $1)", fx.alice);
  };
  // The foreign key check takes FOR KEY SHARE on the user: compatible with NO KEY UPDATE.
  holder.execute(select<User>().where(col<&User::id> == fx.alice).for_no_key_update());
  add_todo();
  other.commit();
  holder.rollback();
  // ... but not with FOR UPDATE: the insert waits, then fails typed.
  holder.execute(select<User>().where(col<&User::id> == fx.alice).for_update());
  CHECK_THROWS_AS(add_todo(), LockNotAvailable);
  other.rollback();
  holder.rollback();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE title = 'child'") == 1);

  // OF todos: the joined user row stays free, the todo rows are locked.
  holder.execute(
      select<Todo>().join<User>().where(col<&User::id> == fx.bob).for_update().of<Todo>());
  CHECK(other
            .execute(
                select<User>().where(col<&User::id> == fx.bob).for_update(query::LockWait::nowait))
            .size() == 1);
  other.rollback();
  CHECK_THROWS_AS(
      other.execute(
          select<Todo>().where(col<&Todo::user_id> == fx.bob).for_update(query::LockWait::nowait)),
      LockNotAvailable);
  other.rollback();
  holder.rollback();
}

TEST_CASE("contains, startswith and endswith match %, _ and backslash literally", "[query]") {
  Seeded fx;
  for (const char* title :
       {"50% off", "500 off", "5_0 OFF", "5x0 off", "back\\slash", "backXslash"})
    fx.insert_todo(fx.bob, title);
  auto s = fx.session();
  auto titles = [&](auto condition) {
    auto out = fx.titles(s, select<Todo>().where(condition).order_by(col<&Todo::title>));
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(titles(col<&Todo::title>.contains("0%")) == Titles{"50% off"});
  CHECK(titles(col<&Todo::title>.startswith("5_")) == Titles{"5_0 OFF"});
  CHECK(titles(col<&Todo::title>.endswith("k\\slash")) == Titles{"back\\slash"});
  CHECK(titles(col<&Todo::title>.contains("off")) == Titles{"50% off", "500 off", "5x0 off"});
  CHECK(titles(col<&Todo::title>.icontains("OFF")) ==
        Titles{"50% off", "500 off", "5_0 OFF", "5x0 off"});
  CHECK(titles(col<&Todo::title>.istartswith("BACK\\")) == Titles{"back\\slash"});
  CHECK(titles(col<&Todo::title>.iendswith("_0 off")) == Titles{"5_0 OFF"});
  // The value is a bind parameter, escaped, never spliced into the SQL text.
  auto st = select<Todo>().where(col<&Todo::title>.contains("a%b_c\\")).statement();
  CHECK(st.sql.find("LIKE $") != std::string::npos);
  CHECK(std::string(st.params.value(0)) == "%a\\%b\\_c\\\\%");
}

TEST_CASE("expr<V>() fragments filter and select with bound values", "[query]") {
  Seeded fx;
  auto s = fx.session();
  // Full-text search on a column, the words bound.
  CHECK(fx.titles(
            s, select<Todo>()
                   .where(expr<bool>("to_tsvector('simple', {}) @@ plainto_tsquery('simple', {})",
                                     col<&Todo::title>, "milk"))
                   .order_by(col<&Todo::id>)) == Titles{"Buy milk", "Buy MILK chocolate"});
  // A value that would break a spliced string is only a value.
  CHECK(fx.titles(s, select<Todo>().where(
                         expr<bool>("{} = {}", col<&Todo::title>, "x'; DROP TABLE todos; --")))
            .empty());
  CHECK(fx.count("todos") == 6);
  // An OR inside the fragment stays inside it: the soft-delete filter still applies.
  auto all_live = fx.titles(
      s, select<Todo>().where(expr<bool>("{} = {} OR true", col<&Todo::title>, "nothing")));
  CHECK(all_live.size() == 5);
  CHECK(std::find(all_live.begin(), all_live.end(), "Old milk") == all_live.end());
  CHECK(fx.titles(s, select<Todo>().where(raw<bool>("false OR true"))).size() == 5);
  // In the select list, typed.
  auto lengths =
      s.values(select(col<&Todo::title>, expr<std::int32_t>("length({})", col<&Todo::title>))
                   .where(col<&Todo::title> == "Call mom"));
  REQUIRE(lengths.size() == 1);
  CHECK(std::get<1>(lengths[0]) == 8);
}

TEST_CASE("raw SQL with parameters maps rows to models and tuples", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto todos = s.query<Todo>(
      "SELECT * FROM todos WHERE user_id = $1 AND deleted_at IS NULL "
      "ORDER BY id",
      fx.bob);
  REQUIRE(todos.size() == 1);
  CHECK(todos[0].title == "Walk dog");
  CHECK(todos[0].status == TodoStatus::archived);
  auto pairs = s.query<std::tuple<std::string, std::int64_t>>(
      "SELECT u.email, count(t.id) FROM users u JOIN todos t ON t.user_id = u.id "
      "GROUP BY u.email ORDER BY u.email");
  REQUIRE(pairs.size() == 2);
  CHECK(std::get<1>(pairs[0]) == 5);
  CHECK(s.execute_sql("UPDATE users SET email = upper(email) WHERE id = $1", fx.bob) == 1);
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", fx.bob) ==
        "BOB@EXAMPLE.COM");
}

TEST_CASE("errors carry the statement without its parameter values", "[query]") {
  Seeded fx;
  auto s = fx.session();
  try {
    s.query<std::int32_t>("SELECT $1::integer / 0", 7);
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK(e.sqlstate() == "22012");
    CHECK(e.statement() == "SELECT $1::integer / 0");
  }
  CHECK_THROWS_AS(s.query<std::int32_t>("SELEC 1"), ProgrammingError);
  CHECK_THROWS_AS(s.query<std::int32_t>("SELECT * FROM no_such_table"), ProgrammingError);
}

TEST_CASE("a bulk insert beyond the parameter limit is split into several statements", "[query]") {
  test::SessionFixture fx;
  auto s = fx.session();
  std::vector<User> users(40000);  // 4 columns: 160,000 parameters
  for (std::size_t i = 0; i < users.size(); ++i)
    users[i].email = fmt::format("bulk{}@example.com", i);
  CHECK(insert<User>().values(users).statements().size() == 3);
  // With RETURNING: the INSERTs, each within the limit.
  auto before = s.statements_executed();
  auto returned = s.execute(insert<User>().values(users).returning());
  CHECK(returned.size() == 40000);
  CHECK(s.statements_executed() - before == 4);  // BEGIN + 3 INSERTs
  s.commit();
  CHECK(fx.count("users") == 40000);
  // Without: one COPY, no limit to split for.
  for (std::size_t i = 0; i < users.size(); ++i)
    users[i].email = fmt::format("copied{}@example.com", i);
  before = s.statements_executed();
  CHECK(s.execute(insert<User>().values(users)) == 40000);
  CHECK(s.statements_executed() - before == 3);  // BEGIN, the table check, COPY
  s.commit();
  CHECK(fx.count("users") == 80000);
}

TEST_CASE("nullable() reads the missing side of an outer join as an empty optional", "[query]") {
  Seeded fx;
  fx.insert_user("nobody@example.com");
  auto s = fx.session();
  auto rows = s.values(select(col<&User::email>, nullable(col<&Todo::title>))
                           .outer_join<Todo>()
                           .where(col<&User::email> == "nobody@example.com"));
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(std::get<1>(rows[0]).has_value());
}
