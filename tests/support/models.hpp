// Models shared by the tests: the seed's User/Todo/ApiKey, and a model with every mapped type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pgorm/pgorm.hpp>

namespace testmodels {

enum class TodoStatus { pending, completed, archived };

}  // namespace testmodels

template <>
struct pgorm::enum_traits<testmodels::TodoStatus> {
  static constexpr std::string_view type_name = "todo_status";
  static constexpr std::array values{std::pair{testmodels::TodoStatus::pending, "pending"},
                                     std::pair{testmodels::TodoStatus::completed, "completed"},
                                     std::pair{testmodels::TodoStatus::archived, "archived"}};
};

namespace testmodels {

struct Todo;
struct Category;
struct TodoCategory;

struct User : pgorm::Model<User, pgorm::Timestamps> {
  std::string email;
  pgorm::HasMany<Todo> todos;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&User::email>(pgorm::varchar(255), pgorm::unique));
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&User::todos>(pgorm::cascade::all_delete_orphan));
};

struct Todo : pgorm::Model<Todo, pgorm::Timestamps, pgorm::SoftDelete> {
  std::string title;
  std::optional<std::string> description;
  TodoStatus status = TodoStatus::pending;
  std::int32_t user_id = 0;
  pgorm::BelongsTo<User, &Todo::user_id> user;
  pgorm::ManyToMany<Category, TodoCategory> categories;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Todo::title>(pgorm::varchar(255), pgorm::index),
                     pgorm::column<&Todo::description>(pgorm::text),
                     pgorm::column<&Todo::status>(pgorm::default_value(TodoStatus::pending)),
                     pgorm::column<&Todo::user_id>(
                         pgorm::foreign_key<&User::id>(pgorm::on_delete::cascade), pgorm::index));
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Todo::user>(pgorm::back_populates<&User::todos>),
                           pgorm::relation<&Todo::categories>());
};

struct ApiKey : pgorm::Model<ApiKey, pgorm::UuidKey, pgorm::TableName<"api_keys">> {
  std::string label;
  std::int32_t user_id = 0;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&ApiKey::label>(pgorm::check("length(label) > 0", "label_not_empty")),
      pgorm::column<&ApiKey::user_id>(pgorm::foreign_key<&User::id>(pgorm::on_delete::cascade)));
};

// One column of every mapped type, NULL-able twins included.
struct Sample : pgorm::Model<Sample, pgorm::BigIntKey> {
  std::int16_t small = 0;
  std::int32_t normal = 0;
  std::int64_t big = 0;
  bool flag = false;
  float single = 0;
  double real = 0;
  std::string text;
  std::string short_text;
  pgorm::Decimal amount;
  pgorm::Bytes blob;
  pgorm::Timestamp at{};
  pgorm::LocalTimestamp local_at{};
  pgorm::Date day{std::chrono::year{2000}, std::chrono::month{1}, std::chrono::day{1}};
  pgorm::Uuid token;
  TodoStatus status = TodoStatus::pending;
  pgorm::Json doc;
  std::vector<std::int32_t> numbers;
  std::vector<std::string> words;
  std::vector<std::optional<std::int64_t>> sparse;
  std::vector<TodoStatus> statuses;
  std::optional<std::int32_t> maybe_int;
  std::optional<std::string> maybe_text;
  std::optional<pgorm::Timestamp> maybe_at;
  std::optional<pgorm::Uuid> maybe_token;
  std::optional<TodoStatus> maybe_status;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Sample::small>(), pgorm::column<&Sample::normal>(),
                     pgorm::column<&Sample::big>(), pgorm::column<&Sample::flag>(),
                     pgorm::column<&Sample::single>(), pgorm::column<&Sample::real>(),
                     pgorm::column<&Sample::text>(pgorm::text),
                     pgorm::column<&Sample::short_text>(pgorm::varchar(5)),
                     pgorm::column<&Sample::amount>(pgorm::numeric(30, 10)),
                     pgorm::column<&Sample::blob>(), pgorm::column<&Sample::at>(),
                     pgorm::column<&Sample::local_at>(), pgorm::column<&Sample::day>(),
                     pgorm::column<&Sample::token>(), pgorm::column<&Sample::status>(),
                     pgorm::column<&Sample::doc>(), pgorm::column<&Sample::numbers>(),
                     pgorm::column<&Sample::words>(), pgorm::column<&Sample::sparse>(),
                     pgorm::column<&Sample::statuses>(), pgorm::column<&Sample::maybe_int>(),
                     pgorm::column<&Sample::maybe_text>(), pgorm::column<&Sample::maybe_at>(),
                     pgorm::column<&Sample::maybe_token>(), pgorm::column<&Sample::maybe_status>());
};

// Reserved words as table and column names.
struct Order : pgorm::Model<Order, pgorm::TableName<"order">> {
  std::string user;
  std::int32_t select = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Order::user>(pgorm::column_name("user")),
                     pgorm::column<&Order::select>(pgorm::check("\"select\" >= 0")));
};

// A tree (self-reference), a composite key, table-level constraints and a partial index.
struct Category : pgorm::Model<Category, pgorm::SoftDelete> {
  std::string name;
  std::string slug;
  std::optional<std::int32_t> parent_id;
  pgorm::BelongsTo<Category, &Category::parent_id> parent;
  pgorm::HasMany<Category> children;
  static constexpr auto relationships = pgorm::relationships(
      pgorm::relation<&Category::parent>(pgorm::back_populates<&Category::children>),
      pgorm::relation<&Category::children>(pgorm::cascade::all));
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Category::name>(pgorm::varchar(100)),
                     pgorm::column<&Category::slug>(pgorm::unique_live),
                     pgorm::column<&Category::parent_id>(
                         pgorm::foreign_key<&Category::id>(pgorm::on_delete::set_null)));
  static constexpr auto table_args =
      pgorm::table_args(pgorm::unique_constraint<&Category::parent_id, &Category::name>(),
                        pgorm::index_on<&Category::name, &Category::parent_id>(),
                        pgorm::check("name <> slug", "name_differs_from_slug"));
};

struct TodoCategory : pgorm::Model<TodoCategory, pgorm::CustomKey> {
  std::int32_t todo_id = 0;
  std::int32_t category_id = 0;
  std::int16_t position = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&TodoCategory::todo_id>(
                         pgorm::foreign_key<&Todo::id>(pgorm::on_delete::cascade)),
                     pgorm::column<&TodoCategory::category_id>(pgorm::foreign_key<&Category::id>(
                         pgorm::on_delete::cascade, pgorm::on_update::cascade)),
                     pgorm::column<&TodoCategory::position>(pgorm::default_value(std::int16_t{0})));
  static constexpr auto table_args = pgorm::table_args(
      pgorm::primary_key_on<&TodoCategory::todo_id, &TodoCategory::category_id>());
};

}  // namespace testmodels

namespace testmodels {

// Client-generated UUID keys let a child reference its parent before either is inserted.
struct Project : pgorm::Model<Project, pgorm::UuidKey, pgorm::Timestamps> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Project::name>(pgorm::unique));
};

struct Task : pgorm::Model<Task, pgorm::UuidKey> {
  pgorm::Uuid project_id;
  std::string title;
  std::int32_t points = 0;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Task::project_id>(pgorm::foreign_key<&Project::id>(pgorm::on_delete::cascade)),
      pgorm::column<&Task::title>(),
      pgorm::column<&Task::points>(pgorm::check("points >= 0", "points_not_negative")));
};

}  // namespace testmodels

// Their unit-of-work code is compiled once, in tests/support/models.cpp, as docs/models.md tells
// users to do; every test file that uses them links that copy. One list for both sides.
#define PGORM_TEST_MODELS(each)   \
  each(testmodels::User);         \
  each(testmodels::Todo);         \
  each(testmodels::ApiKey);       \
  each(testmodels::Sample);       \
  each(testmodels::Order);        \
  each(testmodels::Category);     \
  each(testmodels::TodoCategory); \
  each(testmodels::Project);      \
  each(testmodels::Task)

PGORM_TEST_MODELS(PGORM_EXTERN_MODEL);
