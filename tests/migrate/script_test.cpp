#include <catch2/catch.hpp>

#include <pgorm/migrate/migrate.hpp>

using namespace pgorm;
using namespace pgorm::migrate;

namespace {
std::vector<std::string> sql_of(const std::vector<Statement>& statements) {
  std::vector<std::string> out;
  for (const auto& s : statements) out.push_back(s.sql);
  return out;
}
}  // namespace

TEST_CASE("statements split at semicolons outside literals, identifiers, bodies and comments",
          "[migrate][unit]") {
  std::string text =
      "INSERT INTO t VALUES ('a;b', E'it\\'s;', 'x''y;');\n"
      "CREATE TABLE \"we;ird\" (id int);  -- a comment; with a semicolon\n"
      "/* block; /* nested; */ still comment; */\n"
      "DO $pgorm$ BEGIN PERFORM 1; PERFORM 2; END $pgorm$;\n"
      "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
      "SELECT $1::int\n";
  auto statements = split_statements(text);
  CHECK(sql_of(statements) == std::vector<std::string>{
                                  "INSERT INTO t VALUES ('a;b', E'it\\'s;', 'x''y;')",
                                  "CREATE TABLE \"we;ird\" (id int)",
                                  "DO $pgorm$ BEGIN PERFORM 1; PERFORM 2; END $pgorm$",
                                  "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                                  "SELECT $1::int",
                              });
  CHECK(statements[0].line == 1);
  CHECK(statements[2].line == 4);
  CHECK(statements[4].line == 6);
}

TEST_CASE("an unterminated literal or body is an error naming the line", "[migrate][unit]") {
  CHECK_THROWS_WITH(split_statements("SELECT 1;\nSELECT 'oops;\n", "f.sql"),
                    Catch::Contains("f.sql:2: unterminated string literal"));
  CHECK_THROWS_AS(split_statements("DO $x$ BEGIN END $y$;"), MigrationError);
  CHECK_THROWS_AS(split_statements("/* never closed"), MigrationError);
}

TEST_CASE("a revision file reads back as it was written", "[migrate][unit]") {
  RevisionFile r;
  r.revision = "abc123";
  r.down_revisions = {"p1", "p2"};
  r.message = "add priority\nto todos";
  r.created = "2024-05-01T12:00:00Z";
  r.upgrade = {{"ALTER TYPE \"s\" ADD VALUE IF NOT EXISTS E'x'", true, "enum value", 0},
               {"ALTER TABLE \"t\" ADD COLUMN \"p\" integer", false, "", 0},
               {"", false, "only a note for the reviewer", 0}};
  r.downgrade = {{"ALTER TABLE \"t\" DROP COLUMN \"p\"", false, "", 0}};
  std::string text = render_revision(r);
  RevisionFile back = parse_revision(text, "abc123_add_priority_to_todos.sql");
  CHECK(back.revision == "abc123");
  CHECK(back.down_revisions == std::vector<std::string>{"p1", "p2"});
  CHECK(back.message == "add priority to todos");
  CHECK(back.created == "2024-05-01T12:00:00Z");
  REQUIRE(back.upgrade.size() == 2);
  CHECK(back.upgrade[0].sql == "ALTER TYPE \"s\" ADD VALUE IF NOT EXISTS E'x'");
  CHECK(back.upgrade[0].no_transaction);
  CHECK_FALSE(back.upgrade[1].no_transaction);
  CHECK(sql_of(back.downgrade) == std::vector<std::string>{"ALTER TABLE \"t\" DROP COLUMN \"p\""});
  CHECK(text.find("-- only a note for the reviewer") != std::string::npos);
  CHECK(revision_file_name(r) == "abc123_add_priority_to_todos.sql");
}

TEST_CASE("a hand-written file is parsed by sections, with markers inside bodies ignored",
          "[migrate][unit]") {
  std::string text =
      "-- revision: r1\n"
      "-- down_revision:\n"
      "-- message: first\n"
      "\n"
      "-- +upgrade\n"
      "CREATE FUNCTION f() RETURNS int AS $$\n"
      "-- +downgrade\n"
      "SELECT 1;\n"
      "$$ LANGUAGE sql;\n"
      "-- +no-transaction\n"
      "CREATE INDEX CONCURRENTLY ix ON t (a);\n"
      "-- +downgrade\n"
      "DROP FUNCTION f();\n";
  RevisionFile r = parse_revision(text, "r1_first.sql");
  CHECK(r.down_revisions.empty());
  REQUIRE(r.upgrade.size() == 2);
  CHECK(r.upgrade[0].sql.find("-- +downgrade\nSELECT 1;") != std::string::npos);
  CHECK(r.upgrade[0].line == 6);
  CHECK(r.upgrade[1].no_transaction);
  CHECK(r.upgrade[1].line == 11);
  CHECK(sql_of(r.downgrade) == std::vector<std::string>{"DROP FUNCTION f()"});
}

TEST_CASE("revision files with missing parts or transaction control are refused",
          "[migrate][unit]") {
  CHECK_THROWS_WITH(parse_revision("-- revision: r1\n-- down_revision:\nSELECT 1;\n", "a.sql"),
                    Catch::Contains("no '-- +upgrade' section"));
  CHECK_THROWS_WITH(parse_revision("-- down_revision:\n-- +upgrade\n", "a.sql"),
                    Catch::Contains("no '-- revision: ...' line"));
  CHECK_THROWS_WITH(parse_revision("-- revision: r1\n-- +upgrade\n", "a.sql"),
                    Catch::Contains("no '-- down_revision:' line"));
  CHECK_THROWS_WITH(
      parse_revision("-- revision: r1\n-- down_revision:\n-- +upgrade\nBEGIN;\nSELECT 1;\n",
                     "a.sql"),
      Catch::Contains("a.sql:4: 'BEGIN' controls the transaction"));
  CHECK_THROWS_WITH(
      parse_revision("-- revision: r1\n-- down_revision:\n-- +upgrade\n-- +no-transaction\n",
                     "a.sql"),
      Catch::Contains("not followed by a statement"));
  CHECK_THROWS_WITH(
      parse_revision("-- revision: bad-id\n-- down_revision:\n-- +upgrade\n", "a.sql"),
      Catch::Contains("bad revision id"));
  CHECK_NOTHROW(parse_revision(
      "-- revision: r1\n-- down_revision:\n-- +upgrade\nDO $$ BEGIN PERFORM 1; END $$;\n",
      "a.sql"));
}

TEST_CASE("slugs and revision ids are safe for file names and SQL", "[migrate][unit]") {
  CHECK(slugify("Add priority to todos!") == "add_priority_to_todos");
  CHECK(slugify("  ") == "revision");
  CHECK(slugify(std::string(100, 'a')).size() == 40);
  std::string id = new_revision_id();
  CHECK(id.size() == 12);
  CHECK(valid_revision_id(id));
  CHECK_FALSE(valid_revision_id("a'b"));
  CHECK_FALSE(valid_revision_id(""));
  CHECK_FALSE(valid_revision_id(std::string(65, 'a')));
}
