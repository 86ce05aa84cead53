#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "support/catalog.hpp"
#include "support/db.hpp"
#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

auto all_models() { return Metadata::of<User, Todo, ApiKey, Sample, Order, Category, TodoCategory>(); }

std::int64_t count_tables(test::TestSchema& db) {
  return db.scalar<std::int64_t>(
      "SELECT count(*) FROM pg_tables WHERE schemaname = $1", db.name());
}

}  // namespace

TEST_CASE("create_all creates tables whose columns match the models", "[ddl]") {
  test::TestSchema db;
  all_models().create_all(db.conn());

  auto todos = test::catalog_columns(db, "todos");
  REQUIRE(todos.size() == 8);
  CHECK(todos["id"].type == "integer");
  CHECK(todos["id"].not_null);
  CHECK(todos["id"].default_expr.value_or("").find("nextval") == 0);
  CHECK(todos["title"].type == "character varying(255)");
  CHECK(todos["title"].not_null);
  CHECK(todos["description"].type == "text");
  CHECK_FALSE(todos["description"].not_null);
  CHECK(todos["status"].type == "todo_status");
  CHECK(todos["status"].default_expr == "'pending'::todo_status");
  CHECK(todos["user_id"].type == "integer");
  CHECK(todos["created_at"].type == "timestamp with time zone");
  CHECK(todos["created_at"].default_expr == "now()");
  CHECK(todos["updated_at"].default_expr == "now()");
  CHECK(todos["deleted_at"].type == "timestamp with time zone");
  CHECK_FALSE(todos["deleted_at"].not_null);

  auto samples = test::catalog_columns(db, "samples");
  CHECK(samples["id"].type == "bigint");
  CHECK(samples["small"].type == "smallint");
  CHECK(samples["big"].type == "bigint");
  CHECK(samples["flag"].type == "boolean");
  CHECK(samples["single"].type == "real");
  CHECK(samples["real"].type == "double precision");
  CHECK(samples["short_text"].type == "character varying(5)");
  CHECK(samples["amount"].type == "numeric(30,10)");
  CHECK(samples["blob"].type == "bytea");
  CHECK(samples["local_at"].type == "timestamp without time zone");
  CHECK(samples["day"].type == "date");
  CHECK(samples["token"].type == "uuid");
  CHECK(samples["doc"].type == "jsonb");
  CHECK(samples["numbers"].type == "integer[]");
  CHECK(samples["words"].type == "text[]");
  CHECK(samples["sparse"].type == "bigint[]");
  CHECK(samples["statuses"].type == "todo_status[]");
  CHECK_FALSE(samples["maybe_int"].not_null);
  CHECK(samples["maybe_status"].type == "todo_status");

  auto keys = test::catalog_columns(db, "api_keys");
  CHECK(keys["id"].type == "uuid");
  CHECK(keys["id"].default_expr == "gen_random_uuid()");
}

TEST_CASE("create_all names and creates every constraint and index", "[ddl]") {
  test::TestSchema db;
  all_models().create_all(db.conn());

  auto todo_constraints = test::catalog_constraints(db, "todos");
  CHECK(todo_constraints["pk_todos"] == "PRIMARY KEY (id)");
  CHECK(todo_constraints["fk_todos_user_id_users"] ==
        "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE");
  auto todo_indexes = test::catalog_indexes(db, "todos");
  CHECK(todo_indexes.count("ix_todos_title") == 1);
  CHECK(todo_indexes.count("ix_todos_user_id") == 1);

  CHECK(test::catalog_constraints(db, "users")["uq_users_email"] == "UNIQUE (email)");
  CHECK(test::catalog_constraints(db, "api_keys")["ck_api_keys_label_not_empty"] ==
        "CHECK ((length(label) > 0))");

  auto cat = test::catalog_constraints(db, "categories");
  CHECK(cat["fk_categories_parent_id_categories"] ==
        "FOREIGN KEY (parent_id) REFERENCES categories(id) ON DELETE SET NULL");
  CHECK(cat["uq_categories_parent_id_name"] == "UNIQUE (parent_id, name)");
  CHECK(cat["ck_categories_name_differs_from_slug"] == "CHECK (((name)::text <> slug))");
  auto cat_indexes = test::catalog_indexes(db, "categories");
  CHECK(cat_indexes["uq_categories_slug"].find("CREATE UNIQUE INDEX uq_categories_slug") == 0);
  CHECK(cat_indexes["uq_categories_slug"].find("WHERE (deleted_at IS NULL)") != std::string::npos);
  CHECK(cat_indexes["ix_categories_name_parent_id"].find("(name, parent_id)") != std::string::npos);

  auto link = test::catalog_constraints(db, "todo_categories");
  CHECK(link["pk_todo_categories"] == "PRIMARY KEY (todo_id, category_id)");
  CHECK(link["fk_todo_categories_category_id_categories"] ==
        "FOREIGN KEY (category_id) REFERENCES categories(id) ON UPDATE CASCADE ON DELETE CASCADE");

  auto labels = db.conn().query<std::string>(
      "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
      "JOIN pg_namespace n ON n.oid = t.typnamespace "
      "WHERE t.typname = 'todo_status' AND n.nspname = $1 ORDER BY e.enumsortorder",
      db.name());
  CHECK(labels == std::vector<std::string>{"pending", "completed", "archived"});
}

TEST_CASE("create_all twice is not an error and changes nothing", "[ddl]") {
  test::TestSchema db;
  auto md = all_models();
  md.create_all(db.conn());
  auto before = test::catalog_constraints(db, "todos");
  REQUIRE_NOTHROW(md.create_all(db.conn()));
  CHECK(test::catalog_constraints(db, "todos") == before);
  CHECK(count_tables(db) == 7);
}

TEST_CASE("drop_all removes the tables and enum types", "[ddl]") {
  test::TestSchema db;
  auto md = all_models();
  md.create_all(db.conn());
  REQUIRE(count_tables(db) == 7);
  md.drop_all(db.conn());
  CHECK(count_tables(db) == 0);
  CHECK(db.scalar<std::int64_t>(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = $1 AND t.typtype = 'e'",
            db.name()) == 0);
  REQUIRE_NOTHROW(md.drop_all(db.conn()));
}

TEST_CASE("reserved words work as table and column names", "[ddl]") {
  test::TestSchema db;
  Metadata::of<Order>().create_all(db.conn());
  Order o;
  o.user = "alice";
  o.select = 3;
  Order stored = test::insert_returning(db.conn(), o);
  CHECK(stored.id > 0);
  CHECK(stored.user == "alice");
  CHECK(db.scalar<std::string>("SELECT \"user\" FROM \"order\" WHERE \"select\" = 3") == "alice");
}

TEST_CASE("identifiers are double-quoted with embedded quotes doubled", "[unit][ddl]") {
  CHECK(sql::quote_identifier("user") == "\"user\"");
  CHECK(sql::quote_identifier("") == "\"\"");
  CHECK(sql::quote_identifier("a\"b") == "\"a\"\"b\"");
  CHECK(sql::quote_identifier("\"") == "\"\"\"\"");
  CHECK(sql::quote_identifier("\"x\"\"") == "\"\"\"x\"\"\"\"\"");
  std::string out = "SELECT ";
  sql::append_identifier(out, "Mixed Case");
  CHECK(out == "SELECT \"Mixed Case\"");
}

TEST_CASE("the server reads a quoted identifier back as the name it was given", "[ddl]") {
  test::TestSchema db;
  for (std::string name :
       {"plain", "a\"b", "\"", "\"lead", "trail\"", "two\"\"quotes", "Mixed Case"}) {
    INFO(name);
    Result r = db.conn().exec("SELECT 1 AS " + sql::quote_identifier(name));
    CHECK(r.column_name(0) == name);
  }
}

TEST_CASE("a check constraint from the model is enforced by the server", "[ddl]") {
  test::TestSchema db;
  Metadata::of<Order>().create_all(db.conn());
  Order o;
  o.user = "bob";
  o.select = -1;
  try {
    test::insert_returning(db.conn(), o);
    FAIL("the insert should have been refused");
  } catch (const CheckViolation& e) {
    CHECK(e.sqlstate() == "23514");
    CHECK(e.table() == "order");
    CHECK(e.constraint() == "ck_order_select");
  }
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM \"order\"") == 0);
}

// Two tables that reference each other: the closing foreign key is added after both exist.
namespace cycle {
struct Department : pgorm::Model<Department> {
  std::optional<std::int32_t> head_id;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Department::head_id>());
};
struct Employee : pgorm::Model<Employee> {
  std::int32_t department_id = 0;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Employee::department_id>(pgorm::foreign_key<&Department::id>()));
};
}  // namespace cycle

TEST_CASE("foreign keys that form a cycle are created after both tables", "[ddl]") {
  test::TestSchema db;
  TableInfo departments = table_info<cycle::Department>();
  departments.foreign_keys.push_back({naming::foreign_key_name("departments", {"head_id"}, "employees"),
                                      {"head_id"}, "employees", {"id"},
                                      referential_action::set_null, referential_action::no_action});
  Metadata md;
  md.add_table(departments).add<cycle::Employee>();
  md.create_all(db.conn());
  CHECK(test::catalog_constraints(db, "departments")["fk_departments_head_id_employees"] ==
        "FOREIGN KEY (head_id) REFERENCES employees(id) ON DELETE SET NULL");
  CHECK(test::catalog_constraints(db, "employees")["fk_employees_department_id_departments"] ==
        "FOREIGN KEY (department_id) REFERENCES departments(id)");
  REQUIRE_NOTHROW(md.create_all(db.conn()));
  md.drop_all(db.conn());
  CHECK(count_tables(db) == 0);
}

TEST_CASE("the DDL is available as text for review", "[unit][ddl]") {
  std::string sql = all_models().create_sql();
  CHECK(sql.find("CREATE TABLE IF NOT EXISTS \"todos\"") != std::string::npos);
  CHECK(sql.find("CREATE TYPE \"todo_status\" AS ENUM") != std::string::npos);
  CHECK(sql.find("CREATE TYPE") < sql.find("CREATE TABLE"));
  CHECK(sql.find("\"users\" (") < sql.find("\"todos\" ("));
}
