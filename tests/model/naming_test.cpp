#include <catch2/catch.hpp>

#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;

TEST_CASE("class names become snake_case", "[unit][naming]") {
  CHECK(naming::snake_case("Todo") == "todo");
  CHECK(naming::snake_case("ApiKey") == "api_key");
  CHECK(naming::snake_case("HTTPRequest") == "http_request");
  CHECK(naming::snake_case("UserHTTPToken") == "user_http_token");
  CHECK(naming::snake_case("Todo2Tag") == "todo2_tag");
  CHECK(naming::snake_case("already_snake") == "already_snake");
}

TEST_CASE("table names are English plurals of the last word", "[unit][naming]") {
  CHECK(naming::table_name_for("Todo") == "todos");
  CHECK(naming::table_name_for("ApiKey") == "api_keys");
  CHECK(naming::table_name_for("Category") == "categories");
  CHECK(naming::table_name_for("Address") == "addresses");
  CHECK(naming::table_name_for("Status") == "statuses");
  CHECK(naming::table_name_for("Box") == "boxes");
  CHECK(naming::table_name_for("Match") == "matches");
  CHECK(naming::table_name_for("Key") == "keys");
  CHECK(naming::table_name_for("Person") == "people");
  CHECK(naming::table_name_for("UserPerson") == "user_people");
  CHECK(naming::table_name_for("Child") == "children");
  CHECK(naming::table_name_for("Analysis") == "analyses");
  CHECK(naming::table_name_for("Leaf") == "leaves");
  CHECK(naming::table_name_for("Roof") == "roofs");
  CHECK(naming::table_name_for("Hero") == "heroes");
  CHECK(naming::table_name_for("Photo") == "photos");
  CHECK(naming::table_name_for("News") == "news");
  CHECK(naming::table_name_for("Equipment") == "equipment");
  CHECK(naming::table_name_for("Index") == "indexes");
}

TEST_CASE("member names come from the member pointer, mixin members included", "[unit][naming]") {
  STATIC_REQUIRE(naming::member_name<&Todo::title>() == "title");
  STATIC_REQUIRE(naming::member_name<&Todo::user_id>() == "user_id");
  STATIC_REQUIRE(naming::member_name<&Todo::id>() == "id");
  STATIC_REQUIRE(naming::member_name<&Todo::created_at>() == "created_at");
  STATIC_REQUIRE(naming::member_name<&Todo::deleted_at>() == "deleted_at");
  STATIC_REQUIRE(naming::class_name<Todo>() == "Todo");
}

TEST_CASE("models get derived or explicit table names", "[unit][naming]") {
  CHECK(model_traits<User>::table_name() == "users");
  CHECK(model_traits<Todo>::table_name() == "todos");
  CHECK(model_traits<ApiKey>::table_name() == "api_keys");
  CHECK(model_traits<Category>::table_name() == "categories");
  CHECK(model_traits<Order>::table_name() == "order");
  CHECK(model_traits<TodoCategory>::table_name() == "todo_categories");
}

TEST_CASE("constraint and index names follow one naming convention", "[unit][naming]") {
  CHECK(naming::primary_key_name("todos") == "pk_todos");
  CHECK(naming::unique_name("users", {"email"}) == "uq_users_email");
  CHECK(naming::index_name("todos", {"title", "user_id"}) == "ix_todos_title_user_id");
  CHECK(naming::foreign_key_name("todos", {"user_id"}, "users") == "fk_todos_user_id_users");
  CHECK(naming::check_name("api_keys", "label_not_empty") == "ck_api_keys_label_not_empty");
}

TEST_CASE("generated names longer than 63 bytes are shortened without collisions",
          "[unit][naming]") {
  std::string a = naming::index_name(std::string(60, 'a'), {"first_column"});
  std::string b = naming::index_name(std::string(60, 'a'), {"second_column"});
  CHECK(a.size() == 63);
  CHECK(b.size() == 63);
  CHECK(a != b);
  CHECK(a == naming::index_name(std::string(60, 'a'), {"first_column"}));
}

TEST_CASE("a model lists its key first, its own columns, then the mixins' columns",
          "[unit][model]") {
  const TableInfo& t = table_info<Todo>();
  std::vector<std::string> names;
  for (const auto& c : t.columns) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{"id", "title", "description", "status", "user_id",
                                          "created_at", "updated_at", "deleted_at"});
  CHECK(t.primary_key == std::vector<std::string>{"id"});
  CHECK(t.soft_delete);
  CHECK_FALSE(table_info<User>().soft_delete);
  CHECK(t.column("description")->nullable);
  CHECK_FALSE(t.column("title")->nullable);
  CHECK(t.column("title")->sql_type == "varchar(255)");
  CHECK(t.column("status")->sql_type == "\"todo_status\"");
  CHECK(t.column("id")->sql_type == "serial");
  CHECK(table_info<Sample>().column("id")->sql_type == "bigserial");
  CHECK(table_info<ApiKey>().column("id")->sql_type == "uuid");
  CHECK(table_info<ApiKey>().column("id")->default_sql == "gen_random_uuid()");
}

TEST_CASE("models are plain values: copyable, comparable, printable", "[unit][model]") {
  Todo a;
  a.title = "Buy milk";
  a.user_id = 7;
  Todo b = a;
  CHECK(a == b);
  b.description = "two litres";
  CHECK_FALSE(a == b);
  std::string text = fmt::format("{}", a);
  CHECK(text.find("title=\"Buy milk\"") != std::string::npos);
  CHECK(text.find("description=NULL") != std::string::npos);
  CHECK(text.find("status=pending") != std::string::npos);
  CHECK(text.rfind("Todo{", 0) == 0);
  static_assert(std::is_nothrow_move_constructible_v<Todo>);
}

TEST_CASE("soft delete members mark and restore an object", "[unit][model]") {
  Todo t;
  CHECK_FALSE(t.is_deleted());
  t.soft_delete();
  CHECK(t.is_deleted());
  t.restore();
  CHECK_FALSE(t.is_deleted());
}

TEST_CASE("metadata orders tables after the tables they reference", "[unit][model]") {
  auto md = Metadata::of<TodoCategory, Todo, Category, ApiKey, User>();
  std::vector<std::string> order;
  for (const auto& t : md.tables()) order.push_back(t.name);
  auto pos = [&](const std::string& n) {
    return std::find(order.begin(), order.end(), n) - order.begin();
  };
  CHECK(order.size() == 5);
  CHECK(pos("users") < pos("todos"));
  CHECK(pos("users") < pos("api_keys"));
  CHECK(pos("todos") < pos("todo_categories"));
  CHECK(pos("categories") < pos("todo_categories"));
  CHECK(md.enums().size() == 1);
  CHECK(md.enums()[0].labels == std::vector<std::string>{"pending", "completed", "archived"});
}
