#include <catch2/catch.hpp>

#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;

TEST_CASE("a filtered, ordered, paginated select renders with bind parameters", "[unit][query]") {
  auto q =
      select<Todo>()
          .where(col<&Todo::status> == TodoStatus::pending && col<&Todo::title>.ilike("%milk%"))
          .order_by(col<&Todo::created_at>.desc())
          .offset(20)
          .limit(10);
  auto st = q.statement();
  CHECK(st.sql ==
        "SELECT \"todos\".\"id\", \"todos\".\"title\", \"todos\".\"description\", "
        "\"todos\".\"status\", \"todos\".\"user_id\", \"todos\".\"created_at\", "
        "\"todos\".\"updated_at\", \"todos\".\"deleted_at\" FROM \"todos\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND ((\"todos\".\"status\" = $1) AND "
        "(\"todos\".\"title\" ILIKE $2)) ORDER BY \"todos\".\"created_at\" DESC LIMIT $3 "
        "OFFSET $4");
  REQUIRE(st.params.size() == 4);
  CHECK(std::string(st.params.value(0)) == "pending");
  CHECK(std::string(st.params.value(1)) == "%milk%");
  CHECK(std::string(st.params.value(2)) == "10");
  CHECK(std::string(st.params.value(3)) == "20");
  CHECK(q.to_sql().find("$2=E'%milk%'") != std::string::npos);
}

TEST_CASE("the select list kept for a model's table is used only with that table",
          "[unit][query]") {
  query::SelectParts parts;
  parts.from = &table_info<User>();
  parts.from_columns = &sql::qualified_columns<Todo>();  // kept for another table
  parts.from_columns_of = &table_info<Todo>();
  CHECK(query::render_select(parts).sql ==
        "SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"created_at\", "
        "\"users\".\"updated_at\" FROM \"users\"");
  parts.from_columns = &sql::qualified_columns<User>();
  parts.from_columns_of = parts.from;
  CHECK(query::render_select(parts).sql == select<User>().statement().sql);
}

TEST_CASE("finishing a statement numbers its placeholders in order", "[unit][query]") {
  query::Fragment f;
  f.add_param(1);  // a marker first
  for (int i = 2; i <= 12; ++i) {
    f += i % 2 ? " x " : ", ";
    f.add_param(i);
  }
  f += " end";
  auto st = query::finish(std::move(f));
  CHECK(st.sql == "$1, $2 x $3, $4 x $5, $6 x $7, $8 x $9, $10 x $11, $12 end");
  CHECK(st.params.size() == 12);
  query::Fragment plain;
  plain += "SELECT 1";
  CHECK(query::finish(std::move(plain)).sql == "SELECT 1");
  query::Fragment last;
  last += "a = ";
  last.add_param(7);
  CHECK(query::finish(std::move(last)).sql == "a = $1");
}

TEST_CASE("values never appear in the SQL text", "[unit][query]") {
  auto q = select<User>().where(col<&User::email> == "'; DROP TABLE users; --");
  CHECK(q.statement().sql.find("DROP") == std::string::npos);
}

TEST_CASE("with_deleted drops the soft-delete filter", "[unit][query]") {
  CHECK(select<Todo>().statement().sql.find("deleted_at\" IS NULL") != std::string::npos);
  CHECK(select<Todo>().with_deleted().statement().sql.find("deleted_at\" IS NULL") ==
        std::string::npos);
  CHECK(select<User>().statement().sql.find("deleted_at") == std::string::npos);
}

TEST_CASE("joins follow the foreign key between the models", "[unit][query]") {
  auto sql = select<Todo>().join<User>().where(col<&User::email> == "a@b.c").statement().sql;
  CHECK(sql.find("FROM \"todos\" JOIN \"users\" ON \"todos\".\"user_id\" = \"users\".\"id\"") !=
        std::string::npos);
}

TEST_CASE("a join with no foreign key between the models is refused", "[unit][query]") {
  CHECK_THROWS_AS(select<Sample>().join<User>(), ProgrammingError);
}

TEST_CASE("update and delete render their statements", "[unit][query]") {
  auto up = update<Todo>()
                .set(col<&Todo::status>, TodoStatus::archived)
                .where(col<&Todo::user_id> == 3)
                .statement();
  CHECK(up.sql ==
        "UPDATE \"todos\" SET \"status\" = $1, \"updated_at\" = now() WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"user_id\" = $2)");
  auto soft = delete_<Todo>().where(col<&Todo::id> == 1).statement();
  CHECK(soft.sql.rfind("UPDATE \"todos\" SET \"deleted_at\" = now()", 0) == 0);
  auto hard_delete = delete_<Todo>().hard().where(col<&Todo::id> == 1).statement();
  CHECK(hard_delete.sql == "DELETE FROM \"todos\" WHERE (\"todos\".\"id\" = $1)");
  auto all = delete_<User>().all_rows().statement();
  CHECK(all.sql == "DELETE FROM \"users\"");
}

TEST_CASE("in() sends one array parameter whatever the list's length", "[unit][query]") {
  auto a = select<Todo>().where(col<&Todo::id>.in({1, 2, 3})).statement();
  auto b = select<Todo>().where(col<&Todo::id>.in(std::vector<int>{1})).statement();
  CHECK(a.sql == b.sql);
  CHECK(a.sql.find("= ANY($1)") != std::string::npos);
  CHECK(std::string(a.params.value(0)) == "{\"1\",\"2\",\"3\"}");
}

TEST_CASE("row locks render every strength, wait policy and OF list", "[unit][query]") {
  auto tail = [](const auto& q) {
    std::string sql = q.statement().sql;
    auto at = sql.find(" FOR ");
    return at == std::string::npos ? std::string() : sql.substr(at);
  };
  auto q = select<Todo>();
  CHECK(tail(q) == "");
  CHECK(tail(q.for_update()) == " FOR UPDATE");
  CHECK(tail(q.for_no_key_update(query::LockWait::nowait)) == " FOR NO KEY UPDATE NOWAIT");
  CHECK(tail(q.for_share(query::LockWait::skip_locked)) == " FOR SHARE SKIP LOCKED");
  CHECK(tail(q.for_key_share()) == " FOR KEY SHARE");
  CHECK(tail(q.for_update(query::LockMode::key_share_nowait)) == " FOR KEY SHARE NOWAIT");
  CHECK(tail(select<Todo>().join<User>().for_update(query::LockWait::skip_locked).of<Todo>()) ==
        " FOR UPDATE OF \"todos\" SKIP LOCKED");
  CHECK(tail(select<Todo>().join<User>().for_share().of<Todo, User>()) ==
        " FOR SHARE OF \"todos\", \"users\"");
  // OF without a lock, and a share-only method given an update mode, are refused.
  CHECK_THROWS_AS(select<Todo>().of<Todo>(), InterfaceError);
  CHECK_THROWS_AS(select<Todo>().for_share(query::LockMode::update), InterfaceError);
}

TEST_CASE("expr<V>() puts columns in place and values in bind parameters", "[unit][query]") {
  auto st = select<Todo>()
                .where(expr<bool>("to_tsvector('simple', {}) @@ plainto_tsquery('simple', {})",
                                  col<&Todo::title>, "milk's"))
                .statement();
  CHECK(st.sql.find("WHERE \"todos\".\"deleted_at\" IS NULL AND (to_tsvector('simple', "
                    "\"todos\".\"title\") @@ plainto_tsquery('simple', $1))") != std::string::npos);
  REQUIRE(st.params.size() == 1);
  CHECK(std::string(st.params.value(0)) == "milk's");
  // Literal braces, and no arguments.
  auto braces = select<Todo>().where(expr<bool>("{} = ANY('{{1,2}}')", col<&Todo::id>)).statement();
  CHECK(braces.sql.find("\"todos\".\"id\" = ANY('{1,2}')") != std::string::npos);
  CHECK(expr<bool>("true").fragment.sql == "(true)");
}
