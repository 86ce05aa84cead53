#include <catch2/catch.hpp>

#include <pgorm/migrate/migrate.hpp>

#include "migrate/catalog.hpp"

using namespace pgorm;
using namespace pgorm::migrate;

namespace {

TableInfo notes_table() {
  TableInfo t;
  t.name = "notes";
  t.columns = {{"id", "serial", false, true, true, std::nullopt},
               {"title", "character varying(100)", false, false, false, std::nullopt},
               {"rank", "integer", false, false, false, "0"}};
  t.primary_key_name = "pk_notes";
  t.primary_key = {"id"};
  return t;
}

Schema schema_of(std::vector<TableInfo> tables, std::vector<EnumTypeInfo> enums = {}) {
  return Schema{std::move(tables), std::move(enums)};
}

std::vector<std::string> sql_of(const Diff& d) {
  std::vector<std::string> out;
  for (const auto& s : d.statements)
    if (!s.sql.empty()) out.push_back(s.sql);
  return out;
}

}  // namespace

TEST_CASE("type spellings PostgreSQL treats as one compare equal", "[migrate][unit]") {
  CHECK(normalize_type("int4") == "integer");
  CHECK(normalize_type("serial") == "integer");
  CHECK(normalize_type("bigserial") == "bigint");
  CHECK(normalize_type("varchar(255)") == "character varying(255)");
  CHECK(normalize_type("character varying(255)") == "character varying(255)");
  CHECK(normalize_type("timestamptz") == "timestamp with time zone");
  CHECK(normalize_type("timestamp") == "timestamp without time zone");
  CHECK(normalize_type("numeric(30, 10)") == "numeric(30,10)");
  CHECK(normalize_type("\"todo_status\"") == "todo_status");
  CHECK(normalize_type("\"todo_status\"[]") == "todo_status[]");
  CHECK(normalize_type("\"Mixed\"") == "\"Mixed\"");
  CHECK(normalize_type("float8") == "double precision");
  CHECK(normalize_type("bool") == "boolean");
  CHECK(normalize_type("text") != normalize_type("character varying"));
}

TEST_CASE("default and check expressions compare without spelling noise", "[migrate][unit]") {
  CHECK(normalize_expression("E'pending'::\"todo_status\"") == "'pending'::todo_status");
  CHECK(normalize_expression("'pending'::todo_status") == "'pending'::todo_status");
  CHECK(normalize_expression("(deleted_at IS NULL)") == "deleted_at IS NULL");
  CHECK(normalize_expression("((length(label)  >  0))") == "length(label) > 0");
  CHECK(normalize_expression("E'a\\\\b'") == "E'a\\\\b'");
  CHECK(normalize_expression("(a) OR (b)") == "(a) OR (b)");
  CHECK(normalize_expression("'  two  spaces '") == "'  two  spaces '");
}

TEST_CASE("identical schemas give no difference", "[migrate][unit]") {
  auto t = notes_table();
  CHECK(compare(schema_of({t}), schema_of({t})).empty());
  // Names of constraints do not matter, what they do does.
  auto a = t, b = t;
  a.uniques.push_back({"notes_title_key", {"title"}});
  b.uniques.push_back({"uq_notes_title", {"title"}});
  a.columns[1].sql_type = "varchar(100)";
  CHECK(compare(schema_of({a}), schema_of({b})).empty());
}

TEST_CASE("a dropped and an added column in one table get a possible-rename comment",
          "[migrate][unit]") {
  auto from = notes_table();
  auto to = notes_table();
  to.columns[1].name = "headline";
  Diff d = compare(schema_of({from}), schema_of({to}));
  CHECK(d.changes ==
        std::vector<std::string>{"drop column notes.title", "add column notes.headline"});
  CHECK(sql_of(d) ==
        std::vector<std::string>{
            "ALTER TABLE \"notes\" DROP COLUMN \"title\"",
            "ALTER TABLE \"notes\" ADD COLUMN \"headline\" character varying(100) NOT NULL"});
  CHECK(d.statements[0].comment.find("Possible rename") != std::string::npos);
  CHECK(d.statements[0].comment.find("RENAME COLUMN \"title\" TO") != std::string::npos);
}

TEST_CASE("changes are ordered so that PostgreSQL accepts them", "[migrate][unit]") {
  TableInfo authors;
  authors.name = "authors";
  authors.columns = {{"id", "serial", false, true, true, std::nullopt}};
  authors.primary_key = {"id"};
  authors.primary_key_name = "pk_authors";
  auto notes = notes_table();
  notes.columns.push_back({"author_id", "integer", false, false, false, std::nullopt});
  notes.foreign_keys.push_back({"fk_notes_author_id_authors",
                                {"author_id"},
                                "authors",
                                {"id"},
                                referential_action::cascade,
                                referential_action::no_action});
  // From nothing: the referenced table first.
  Diff up = compare(schema_of({}), schema_of({notes, authors}));
  auto sql = sql_of(up);
  REQUIRE(sql.size() == 2);
  CHECK(sql[0].find("CREATE TABLE \"authors\"") == 0);
  CHECK(sql[1].find("CREATE TABLE \"notes\"") == 0);
  // Back to nothing: the referencing table first.
  Diff down = compare(schema_of({notes, authors}), schema_of({}));
  CHECK(sql_of(down) == std::vector<std::string>{"DROP TABLE \"notes\"", "DROP TABLE \"authors\""});
}

TEST_CASE("new enum values are added in place, outside a transaction", "[migrate][unit]") {
  EnumTypeInfo before{"mood", {"sad", "happy"}};
  EnumTypeInfo after{"mood", {"calm", "sad", "meh", "happy", "ecstatic"}};
  Diff d = compare(schema_of({}, {before}), schema_of({}, {after}));
  CHECK(sql_of(d) == std::vector<std::string>{
                         "ALTER TYPE \"mood\" ADD VALUE IF NOT EXISTS E'calm' BEFORE E'sad'",
                         "ALTER TYPE \"mood\" ADD VALUE IF NOT EXISTS E'meh' AFTER E'sad'",
                         "ALTER TYPE \"mood\" ADD VALUE IF NOT EXISTS E'ecstatic'"});
  for (const auto& s : d.statements) CHECK(s.no_transaction);
}

TEST_CASE("the version table and ignored tables are never touched", "[migrate][unit]") {
  TableInfo version;
  version.name = "pgorm_version";
  version.columns = {{"version_num", "character varying(64)", false, true, false, std::nullopt}};
  CompareOptions options;
  options.ignore_tables = {"pgorm_version"};
  CHECK(compare(schema_of({version}), schema_of({}), options).empty());
}

TEST_CASE("the revision graph is checked before anything runs", "[migrate][unit]") {
  test::TempDir dir;
  auto file = [&](const std::string& id, const std::string& down) {
    dir.write(id + "_x.sql", "-- revision: " + id + "\n-- down_revision: " + down +
                                 "\n-- message: x\n-- +upgrade\n-- +downgrade\n");
  };
  file("a1", "");
  file("b2", "a1");
  file("c3", "b2");
  RevisionMap map = RevisionMap::load(dir.path());
  CHECK(map.order() == std::vector<std::string>{"a1", "b2", "c3"});
  CHECK(map.heads() == std::vector<std::string>{"c3"});
  CHECK(map.get("b").revision == "b2");
  CHECK(map.heads_of({"a1", "b2"}) == std::vector<std::string>{"b2"});

  file("d4", "zz");
  CHECK_THROWS_WITH(RevisionMap::load(dir.path()), Catch::Contains("broken chain") &&
                                                       Catch::Contains("d4_x.sql") &&
                                                       Catch::Contains("zz"));
  std::filesystem::remove(dir.path() / "d4_x.sql");

  dir.write("e5_x.sql", "-- revision: e6\n-- down_revision:\n-- +upgrade\n");
  CHECK_THROWS_WITH(RevisionMap::load(dir.path()), Catch::Contains("must start with its revision"));
  std::filesystem::remove(dir.path() / "e5_x.sql");

  dir.write("b2_copy.sql", "-- revision: b2\n-- down_revision: a1\n-- +upgrade\n");
  CHECK_THROWS_WITH(RevisionMap::load(dir.path()), Catch::Contains("two files define revision b2"));
  std::filesystem::remove(dir.path() / "b2_copy.sql");

  file("x1", "y1");
  file("y1", "x1");
  CHECK_THROWS_WITH(RevisionMap::load(dir.path()), Catch::Contains("cycle"));
  std::filesystem::remove(dir.path() / "x1_x.sql");
  std::filesystem::remove(dir.path() / "y1_x.sql");

  CHECK_THROWS_WITH(RevisionMap::load(dir.path() / "nope"), Catch::Contains("does not exist"));
}
