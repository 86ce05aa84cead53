// Changes to text columns are found whatever the value's length and kind (empty, NULL, short
// texts that share the kept blocks, long ones kept on their own), and a savepoint's rollback
// gives the objects back their kept text.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

std::optional<std::string> stored_description(test::SessionFixture& fx, std::int32_t id) {
  return fx.db.scalar<std::optional<std::string>>("SELECT description FROM todos WHERE id = $1",
                                                  id);
}

}  // namespace

TEST_CASE("every change of a text column is written, and an equal value is no change",
          "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("text@example.com");
  const std::string long_text(3000, 'a');
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(fx.insert_todo(uid, "todo " + std::to_string(i)));
  fx.db.conn().exec("UPDATE todos SET description = $1 WHERE id = $2", long_text, ids[0]);
  fx.db.conn().exec("UPDATE todos SET description = '' WHERE id = $1", ids[1]);

  // What each row's description becomes, from what it was (NULL for the other rows).
  std::vector<std::optional<std::string>> next(ids.size());
  next[0] = long_text.substr(0, 2999) + "b";  // the last byte of a long text
  next[1] = std::nullopt;                     // '' becomes NULL
  next[2] = "";                               // NULL becomes ''
  for (std::size_t i = 3; i < ids.size(); ++i)
    next[i] = i % 2 == 0 ? std::optional<std::string>(std::string(i * 20, 'x')) : std::nullopt;

  {
    auto s = fx.session();
    auto todos =
        s.execute(select<Todo>().where(col<&Todo::user_id> == uid).order_by(col<&Todo::id>.asc()));
    REQUIRE(todos.size() == ids.size());
    // Equal values assigned anew are no change: commit sends nothing.
    for (auto& t : todos) t->description = std::optional<std::string>(t->description);
    auto statements = s.statements_executed();
    s.commit();
    CHECK(s.statements_executed() == statements);

    for (std::size_t i = 0; i < todos.size(); ++i) todos[i]->description = next[i];
    s.commit();
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("row " << i);
    CHECK(stored_description(fx, ids[i]) == next[i]);
  }
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", ids[5]) == "todo 5");
}

TEST_CASE("a savepoint's rollback gives text columns back their value and writes nothing",
          "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("savepoint-text@example.com");
  auto tid = fx.insert_todo(uid, "kept title");
  const std::string long_text(1000, 'q');
  fx.db.conn().exec("UPDATE todos SET description = $1 WHERE id = $2", long_text, tid);

  auto s = fx.session();
  s.begin();
  auto todo = s.get<Todo>(tid);
  REQUIRE(todo);
  {
    auto nested = s.begin_nested();
    todo->title = "changed in the savepoint";
    todo->description = std::nullopt;
    s.flush();
    nested.rollback();
  }
  CHECK(todo->title == "kept title");
  CHECK(todo->description == long_text);
  auto statements = s.statements_executed();
  s.commit();
  CHECK(s.statements_executed() == statements + 1);  // COMMIT only
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", tid) == "kept title");
  CHECK(stored_description(fx, tid) == long_text);
}
