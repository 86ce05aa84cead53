#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <pgorm/migrate/migrate.hpp>

#include "migrate/catalog.hpp"
#include "migrate/test_models.hpp"
#include "support/models.hpp"

using namespace pgorm;
using namespace pgorm::migrate;
using Strings = std::vector<std::string>;

namespace {

struct Fixture {
  test::TestSchema db;
  test::TempDir dir;
  Migrator migrator{test::migrator_options(db, dir)};

  // Autogenerates a revision that brings the database to `models`, and applies it.
  NewRevision migrate_to(const Metadata& models, std::string_view message) {
    NewRevision r = migrator.revision(message, &models);
    migrator.upgrade("head");
    return r;
  }
  // What autogenerate would still find between the database and `models`.
  Strings differences(const Metadata& models) {
    CompareOptions options;
    options.ignore_tables = {"pgorm_version"};
    return compare(reflect(db.conn()), reflect_models(db.conn(), models), options).changes;
  }
  // A hand-written revision file.
  void write(const std::string& id, const std::string& down, const std::string& upgrade,
             const std::string& downgrade = "") {
    dir.write(id + "_test.sql",
              "-- revision: " + id + "\n-- down_revision: " + down + "\n-- message: test " + id +
                  "\n-- created: 2024-01-01T00:00:0" + std::to_string(counter++ % 10) +
                  "Z\n\n-- +upgrade\n" + upgrade + "\n-- +downgrade\n" + downgrade + "\n");
  }
  int counter = 0;
};

Metadata example_models() {
  using namespace testmodels;
  return Metadata::of<User, Todo, ApiKey, Sample, Order, Category, TodoCategory, Project, Task>();
}

}  // namespace

TEST_CASE("autogenerate from an empty database, upgrade, check, downgrade base and upgrade again",
          "[migrate]") {
  Fixture f;
  Metadata models = example_models();
  NewRevision first = f.migrator.revision("create tables", &models);
  CHECK(first.changes.size() == 10);  // the enum type and nine tables
  CHECK(first.file.down_revisions.empty());
  f.migrator.upgrade("head");
  CHECK(test::catalog_versions(f.db) == Strings{first.file.revision});
  CHECK(f.migrator.check(models).empty());
  CHECK(f.differences(models).empty());

  // What the server holds, checked against PostgreSQL's own spellings.
  auto todos = test::catalog_columns(f.db, "todos");
  CHECK(todos["status"] == test::CatalogColumn{"todo_status", true, "'pending'::todo_status"});
  CHECK(todos["title"] == test::CatalogColumn{"character varying(255)", true, std::nullopt});
  CHECK(todos["id"].default_expr == "nextval('todos_id_seq'::regclass)");
  CHECK(test::catalog_columns(f.db, "samples")["statuses"].type == "todo_status[]");
  CHECK(test::catalog_constraints(f.db, "categories")["ck_categories_name_differs_from_slug"] ==
        "CHECK (((name)::text <> slug))");
  CHECK(test::catalog_indexes(f.db, "categories")["uq_categories_slug"] ==
        "CREATE UNIQUE INDEX uq_categories_slug ON " + f.db.name() +
            ".categories USING btree (slug) WHERE (deleted_at IS NULL)");
  CHECK(test::catalog_constraints(f.db,
                                  "todo_categories")["fk_todo_categories_category_id_categories"] ==
        "FOREIGN KEY (category_id) REFERENCES categories(id) ON UPDATE CASCADE ON DELETE CASCADE");
  auto before = test::catalog_snapshot(f.db);

  // A second autogenerate right after the upgrade finds nothing.
  NewRevision second = f.migrator.revision("nothing", &models);
  CHECK(second.changes.empty());
  CHECK(second.file.upgrade.empty());
  CHECK(second.file.downgrade.empty());
  std::filesystem::remove(second.file.path);

  f.migrator.downgrade("base");
  CHECK(test::catalog_tables(f.db) == Strings{"pgorm_version"});
  CHECK(test::catalog_enums(f.db).empty());
  CHECK(test::catalog_versions(f.db).empty());

  f.migrator.upgrade("head");
  CHECK(test::catalog_snapshot(f.db) == before);
  CHECK(f.migrator.current() == Strings{first.file.revision});
}

TEST_CASE("create and drop table, both directions", "[migrate]") {
  Fixture f;
  Metadata v1;
  v1.add<migtest::Author>();
  f.migrate_to(v1, "authors");
  NewRevision r = f.migrate_to(migtest::notes(), "notes");
  CHECK(r.changes == Strings{"create table notes"});
  CHECK(test::catalog_tables(f.db) == Strings{"authors", "notes", "pgorm_version"});
  CHECK(test::catalog_constraints(f.db, "notes")["fk_notes_author_id_authors"] ==
        "FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE");
  f.migrator.downgrade("-1");
  CHECK(test::catalog_tables(f.db) == Strings{"authors", "pgorm_version"});
  CHECK(f.differences(v1).empty());
}

TEST_CASE("add and drop column, both directions", "[migrate]") {
  Fixture f;
  f.migrate_to(migtest::notes(), "notes");
  auto v2 = migtest::notes([](TableInfo& t) {
    t.columns.push_back({"pinned", "boolean", false, false, false, "false"});
  });
  NewRevision r = f.migrate_to(v2, "pinned");
  CHECK(r.changes == Strings{"add column notes.pinned"});
  CHECK(test::catalog_columns(f.db, "notes")["pinned"] ==
        test::CatalogColumn{"boolean", true, "false"});
  CHECK(f.differences(v2).empty());
  f.migrator.downgrade("-1");
  CHECK(test::catalog_columns(f.db, "notes").count("pinned") == 0);
  CHECK(f.differences(migtest::notes()).empty());
}

TEST_CASE("alter column type with a USING cast keeps the values, both directions", "[migrate]") {
  Fixture f;
  auto with_code = [](std::string type) {
    return migtest::notes([type](TableInfo& t) {
      t.columns.push_back({"code", type, true, false, false, std::nullopt});
    });
  };
  f.migrate_to(with_code("text"), "code as text");
  f.db.conn().execute("INSERT INTO authors (name) VALUES ('ann')");
  f.db.conn().execute(
      "INSERT INTO notes (title, author_id, code) SELECT 'n', id, '42' FROM authors");
  NewRevision r = f.migrate_to(with_code("integer"), "code as integer");
  CHECK(r.changes == Strings{"change type of notes.code from text to integer"});
  CHECK(r.file.upgrade.at(0).sql ==
        "ALTER TABLE \"notes\" ALTER COLUMN \"code\" TYPE integer USING \"code\"::integer");
  CHECK(test::catalog_columns(f.db, "notes")["code"].type == "integer");
  CHECK(f.db.scalar<std::int32_t>("SELECT code + 1 FROM notes") == 43);
  f.migrator.downgrade("-1");
  CHECK(test::catalog_columns(f.db, "notes")["code"].type == "text");
  CHECK(f.db.scalar<std::string>("SELECT code FROM notes") == "42");
}

TEST_CASE("a column made NOT NULL and nullable, both directions", "[migrate]") {
  Fixture f;
  f.migrate_to(migtest::notes(), "notes");
  auto v2 = migtest::notes([](TableInfo& t) {
    for (auto& c : t.columns) {
      if (c.name == "body") c.nullable = false;
      if (c.name == "title") c.nullable = true;
    }
  });
  NewRevision r = f.migrate_to(v2, "swap nullability");
  CHECK(r.changes == Strings{"make notes.title nullable", "make notes.body NOT NULL"});
  CHECK_FALSE(test::catalog_columns(f.db, "notes")["title"].not_null);
  CHECK(test::catalog_columns(f.db, "notes")["body"].not_null);
  f.migrator.downgrade("-1");
  CHECK(test::catalog_columns(f.db, "notes")["title"].not_null);
  CHECK_FALSE(test::catalog_columns(f.db, "notes")["body"].not_null);
}

TEST_CASE("column defaults changed, added and removed, both directions", "[migrate]") {
  Fixture f;
  f.migrate_to(migtest::notes(), "notes");
  auto v2 = migtest::notes([](TableInfo& t) {
    for (auto& c : t.columns) {
      if (c.name == "rank") c.default_sql = "5";
      if (c.name == "body") c.default_sql = "'none'";
    }
  });
  NewRevision r = f.migrate_to(v2, "defaults");
  CHECK(r.changes.size() == 2);
  auto columns = test::catalog_columns(f.db, "notes");
  CHECK(columns["rank"].default_expr == "5");
  CHECK(columns["body"].default_expr == "'none'::text");
  CHECK(f.differences(v2).empty());
  f.migrator.downgrade("-1");
  columns = test::catalog_columns(f.db, "notes");
  CHECK(columns["rank"].default_expr == "0");
  CHECK_FALSE(columns["body"].default_expr.has_value());
}

TEST_CASE("multi-column and partial unique indexes created and dropped, both directions",
          "[migrate]") {
  Fixture f;
  f.migrate_to(migtest::notes(), "notes");
  auto v2 = migtest::notes([](TableInfo& t) {
    t.indexes.push_back({"ix_notes_title_rank", {"title", "rank"}, false, ""});
    t.indexes.push_back({"uq_notes_title", {"title"}, true, "body IS NOT NULL"});
  });
  NewRevision r = f.migrate_to(v2, "indexes");
  CHECK(r.changes.size() == 2);
  auto indexes = test::catalog_indexes(f.db, "notes");
  CHECK(indexes["ix_notes_title_rank"] ==
        "CREATE INDEX ix_notes_title_rank ON " + f.db.name() + ".notes USING btree (title, rank)");
  CHECK(indexes["uq_notes_title"] == "CREATE UNIQUE INDEX uq_notes_title ON " + f.db.name() +
                                         ".notes USING btree (title) WHERE (body IS NOT NULL)");
  CHECK(f.differences(v2).empty());
  f.migrator.downgrade("-1");
  indexes = test::catalog_indexes(f.db, "notes");
  CHECK(indexes.count("ix_notes_title_rank") == 0);
  CHECK(indexes.count("uq_notes_title") == 0);
}

TEST_CASE("unique, check and foreign key constraints added and dropped, both directions",
          "[migrate]") {
  Fixture f;
  auto v1 = migtest::notes([](TableInfo& t) { t.foreign_keys.clear(); });
  f.migrate_to(v1, "notes without constraints");
  auto v2 = migtest::notes([](TableInfo& t) {
    t.uniques.push_back({"uq_notes_author_id_title", {"author_id", "title"}});
    t.checks.push_back({"ck_notes_rank_not_negative", "rank >= 0"});
  });
  NewRevision r = f.migrate_to(v2, "constraints");
  CHECK(r.changes.size() == 3);
  auto constraints = test::catalog_constraints(f.db, "notes");
  CHECK(constraints["uq_notes_author_id_title"] == "UNIQUE (author_id, title)");
  CHECK(constraints["ck_notes_rank_not_negative"] == "CHECK ((rank >= 0))");
  CHECK(constraints["fk_notes_author_id_authors"] ==
        "FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE");
  CHECK(f.differences(v2).empty());
  f.migrator.downgrade("-1");
  constraints = test::catalog_constraints(f.db, "notes");
  CHECK(constraints.size() == 1);  // the primary key
  CHECK(constraints["pk_notes"] == "PRIMARY KEY (id)");
}

TEST_CASE("an enum type is created with its first column and dropped with its last", "[migrate]") {
  Fixture f;
  Metadata plain;
  plain.add_table([] {
    TableInfo t = table_info<migtest::PriorityNote>();
    t.columns.pop_back();  // no priority column
    t.enums.clear();
    return t;
  }());
  Metadata with_enum = Metadata::of<migtest::PriorityNote>();
  f.migrate_to(plain, "notes");
  NewRevision r = f.migrate_to(with_enum, "priority");
  CHECK(r.changes == Strings{"create enum type priority (low, high)", "add column notes.priority"});
  CHECK(test::catalog_enums(f.db)["priority"] == Strings{"low", "high"});
  CHECK(test::catalog_columns(f.db, "notes")["priority"] ==
        test::CatalogColumn{"priority", true, "'low'::priority"});
  // The other way: the last column goes, and the type with it.
  NewRevision back = f.migrate_to(plain, "no priority");
  CHECK(back.changes == Strings{"drop column notes.priority", "drop enum type priority"});
  CHECK(test::catalog_enums(f.db).empty());
  f.migrator.downgrade("-1");
  CHECK(test::catalog_enums(f.db)["priority"] == Strings{"low", "high"});
  CHECK(test::catalog_columns(f.db, "notes")["priority"].default_expr == "'low'::priority");
  f.migrator.downgrade("-1");
  CHECK(test::catalog_enums(f.db).empty());
  CHECK(test::catalog_columns(f.db, "notes").count("priority") == 0);
}

TEST_CASE("enum values added with ADD VALUE outside the transaction, and removed on downgrade",
          "[migrate]") {
  Fixture f;
  Metadata v1 = Metadata::of<migtest::PriorityNote>();
  TableInfo t = table_info<migtest::PriorityNote>();
  t.enums.at(0).labels = {"low", "medium", "high", "urgent"};
  Metadata v2;
  v2.add_table(t);
  f.migrate_to(v1, "notes");
  NewRevision r = f.migrate_to(v2, "more priorities");
  CHECK(r.changes == Strings{"add value medium to enum type priority",
                             "add value urgent to enum type priority"});
  REQUIRE(r.file.upgrade.size() == 2);
  CHECK(r.file.upgrade[0].no_transaction);
  CHECK(r.file.upgrade[0].sql ==
        "ALTER TYPE \"priority\" ADD VALUE IF NOT EXISTS E'medium' AFTER E'low'");
  CHECK(test::catalog_enums(f.db)["priority"] == Strings{"low", "medium", "high", "urgent"});
  f.db.conn().execute("INSERT INTO notes (title, priority) VALUES ('a', 'urgent')");
  CHECK(f.differences(v2).empty());

  f.db.conn().execute("DELETE FROM notes");
  f.db.conn().execute("INSERT INTO notes (title, priority) VALUES ('b', 'high')");
  f.migrator.downgrade("-1");
  CHECK(test::catalog_enums(f.db)["priority"] == Strings{"low", "high"});
  CHECK(test::catalog_columns(f.db, "notes")["priority"] ==
        test::CatalogColumn{"priority", true, "'low'::priority"});
  CHECK(f.db.scalar<std::string>("SELECT priority::text FROM notes") == "high");
  CHECK(f.differences(v1).empty());
}

TEST_CASE("a failing migration is rolled back and the error names file, line and statement",
          "[migrate]") {
  Fixture f;
  f.write("a1", "", "CREATE TABLE one (id int);", "DROP TABLE one;");
  f.write("b2", "a1", "CREATE TABLE two (id int);\nINSERT INTO one VALUES (1);\n\nSELECT 1 / 0;\n",
          "DROP TABLE two;");
  try {
    f.migrator.upgrade("head");
    FAIL("the upgrade should have failed");
  } catch (const MigrationError& e) {
    std::string what = e.what();
    CHECK(what.find("b2_test.sql:10") != std::string::npos);
    CHECK(what.find("division by zero") != std::string::npos);
    CHECK(what.find("rolled back") != std::string::npos);
    CHECK(e.statement() == "SELECT 1 / 0");
    CHECK(e.sqlstate() == "22012");
  }
  // a1 was committed on its own; nothing of b2 remains.
  CHECK(test::catalog_versions(f.db) == Strings{"a1"});
  CHECK(test::catalog_tables(f.db) == Strings{"one", "pgorm_version"});
  CHECK(f.db.scalar<std::int64_t>("SELECT count(*) FROM one") == 0);
}

TEST_CASE("two migrators upgrading at once apply each migration exactly once", "[migrate]") {
  Fixture f;
  f.write("a1", "",
          "CREATE TABLE applied (n int);\nINSERT INTO applied VALUES (1);\nSELECT pg_sleep(0.3);",
          "DROP TABLE applied;");
  f.write("b2", "a1", "INSERT INTO applied VALUES (2);", "DELETE FROM applied WHERE n = 2;");
  std::atomic<int> waited{0};
  std::atomic<int> failures{0};
  auto run = [&] {
    auto options = test::migrator_options(f.db, f.dir);
    options.log = [&](std::string_view line) {
      if (line.find("Waiting for the migration lock") != std::string_view::npos) ++waited;
    };
    try {
      Migrator(options).upgrade("head");
    } catch (const std::exception& e) {
      ++failures;
      UNSCOPED_INFO(e.what());
    }
  };
  std::thread a(run), b(run);
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(f.db.scalar<std::int64_t>("SELECT count(*) FROM applied") == 2);
  CHECK(f.db.scalar<std::int64_t>("SELECT sum(n) FROM applied") == 3);
  CHECK(test::catalog_versions(f.db) == Strings{"b2"});
  CHECK(waited == 1);
}

TEST_CASE("a migrator that cannot take the lock in time applies nothing", "[migrate]") {
  Fixture f;
  f.write("a1", "", "CREATE TABLE slow (n int);\nSELECT pg_sleep(1);", "DROP TABLE slow;");
  std::thread first([&] { Migrator(test::migrator_options(f.db, f.dir)).upgrade("head"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto options = test::migrator_options(f.db, f.dir);
  options.lock_timeout = std::chrono::milliseconds(200);
  try {
    Migrator(options).upgrade("head");
    FAIL("the lock should not have been available");
  } catch (const MigrationError& e) {
    CHECK(std::string(e.what()).find("could not take the migration lock") != std::string::npos);
    CHECK(e.sqlstate() == "55P03");
  }
  first.join();
  CHECK(test::catalog_versions(f.db) == Strings{"a1"});
}

TEST_CASE("upgrade --sql prints exactly the statements upgrade executes", "[migrate]") {
  Fixture f;
  Metadata models = example_models();
  NewRevision first = f.migrator.revision("create tables", &models);
  f.write("zz9", first.file.revision,
          "-- +no-transaction\nALTER TYPE todo_status ADD VALUE 'blocked';\n"
          "UPDATE todos SET status = 'pending' WHERE false;",
          "SELECT 1;");
  std::string script = f.migrator.upgrade_sql("head");
  CHECK(script == f.migrator.upgrade_sql("head", "base"));

  Strings executed;
  auto options = test::migrator_options(f.db, f.dir);
  options.on_statement = [&](std::string_view sql) { executed.emplace_back(sql); };
  Migrator(options).upgrade("head");
  Strings printed;
  for (const auto& st : split_statements(script)) printed.push_back(st.sql);
  CHECK(printed == executed);
  CHECK(script.find("-- +no-transaction\nALTER TYPE todo_status ADD VALUE 'blocked';\n"
                    "BEGIN;\nUPDATE todos") != std::string::npos);

  // The script, run statement by statement elsewhere, builds the same schema and version table.
  test::TestSchema other;
  for (const auto& sql : printed) other.conn().execute(sql);
  CHECK(test::catalog_snapshot(other) == test::catalog_snapshot(f.db));
  CHECK(test::catalog_versions(other) == Strings{"zz9"});

  // Downgrade scripts come from the database's revision, or from --from.
  std::string down = f.migrator.downgrade_sql("base");
  CHECK(down == f.migrator.downgrade_sql("base", "zz9"));
  CHECK(down.find("DELETE FROM \"pgorm_version\" WHERE version_num = 'zz9'") != std::string::npos);
  CHECK(test::catalog_versions(f.db) == Strings{"zz9"});  // printing changed nothing
}

TEST_CASE("a broken chain, several heads or an unknown database revision apply nothing",
          "[migrate]") {
  SECTION("broken chain: a down_revision without a file") {
    Fixture f;
    f.write("a1", "", "CREATE TABLE one (id int);");
    f.write("c3", "b2", "CREATE TABLE three (id int);");
    CHECK_THROWS_WITH(f.migrator.upgrade("head"),
                      Catch::Contains("broken chain") && Catch::Contains("b2"));
    CHECK(test::catalog_tables(f.db).empty());
  }
  SECTION("multiple heads") {
    Fixture f;
    f.write("a1", "", "CREATE TABLE one (id int);");
    f.write("b2", "a1", "CREATE TABLE two (id int);");
    f.write("c3", "a1", "CREATE TABLE three (id int);");
    CHECK_THROWS_WITH(f.migrator.upgrade("head"),
                      Catch::Contains("multiple heads: b2, c3") && Catch::Contains("merge"));
    CHECK(test::catalog_tables(f.db).empty());
    CHECK_THROWS_WITH(f.migrator.revision("more"), Catch::Contains("multiple heads"));
  }
  SECTION("the database is at a revision no file defines") {
    Fixture f;
    f.write("a1", "", "CREATE TABLE one (id int);");
    f.migrator.upgrade("head");
    std::filesystem::remove(f.dir.path() / "a1_test.sql");
    f.write("x1", "", "CREATE TABLE other (id int);");
    CHECK_THROWS_WITH(f.migrator.upgrade("head"),
                      Catch::Contains("the database is at revision a1, which no file"));
    CHECK(test::catalog_tables(f.db) == Strings{"one", "pgorm_version"});
    CHECK(test::catalog_versions(f.db) == Strings{"a1"});
  }
  SECTION("autogenerate refuses a database that is not at the head") {
    Fixture f;
    f.write("a1", "", "CREATE TABLE one (id int);");
    Metadata models = migtest::notes();
    CHECK_THROWS_WITH(f.migrator.revision("x", &models), Catch::Contains("not up to date"));
    CHECK(f.migrator.check(models).front().find("the database is at base") == 0);
  }
}

TEST_CASE("branches are merged, and relative targets step through the history", "[migrate]") {
  Fixture f;
  f.write("a1", "", "CREATE TABLE one (id int);", "DROP TABLE one;");
  f.write("b2", "a1", "CREATE TABLE two (id int);", "DROP TABLE two;");
  f.write("c3", "a1", "CREATE TABLE three (id int);", "DROP TABLE three;");
  NewRevision merge = f.migrator.merge("join branches");
  CHECK(merge.file.down_revisions == Strings{"b2", "c3"});
  CHECK(f.migrator.heads() == Strings{merge.file.revision});

  f.migrator.upgrade("+1");
  CHECK(test::catalog_versions(f.db) == Strings{"a1"});
  f.migrator.upgrade("head");
  CHECK(test::catalog_versions(f.db) == Strings{merge.file.revision});
  CHECK(test::catalog_tables(f.db) == Strings{"one", "pgorm_version", "three", "two"});
  f.migrator.downgrade("-1");
  CHECK(test::catalog_versions(f.db) == Strings{"b2", "c3"});
  f.migrator.downgrade("a1");
  CHECK(test::catalog_versions(f.db) == Strings{"a1"});
  CHECK(test::catalog_tables(f.db) == Strings{"one", "pgorm_version"});
  CHECK_THROWS_WITH(f.migrator.downgrade("-2"), Catch::Contains("only 1 revision"));
  CHECK(test::catalog_versions(f.db) == Strings{"a1"});

  auto history = f.migrator.history(true);
  REQUIRE(history.size() == 4);
  CHECK(history.front().revision == merge.file.revision);
  CHECK(history.front().is_head);
  CHECK(history.back().revision == "a1");
  CHECK(history.back().is_current);
}

TEST_CASE("stamp sets the version table without running migrations", "[migrate]") {
  Fixture f;
  f.write("a1", "", "CREATE TABLE one (id int);");
  f.write("b2", "a1", "CREATE TABLE two (id int);");
  f.migrator.stamp("head");
  CHECK(test::catalog_versions(f.db) == Strings{"b2"});
  CHECK(test::catalog_tables(f.db) == Strings{"pgorm_version"});
  f.migrator.stamp("a1");
  CHECK(f.migrator.current() == Strings{"a1"});
  f.migrator.upgrade("head");
  CHECK(test::catalog_tables(f.db) == Strings{"pgorm_version", "two"});
  f.migrator.stamp("base");
  CHECK(f.migrator.current().empty());
}

TEST_CASE("an explicit schema is migrated whatever the connection's search_path", "[migrate]") {
  test::TestSchema db;
  test::TempDir dir;
  MigratorOptions options;
  options.url = test::base_conninfo();  // search_path not set to the test schema
  options.schema = db.name();
  options.directory = dir.path();
  Migrator migrator(options);
  Metadata models = migtest::notes();
  NewRevision r = migrator.revision("notes", &models);
  migrator.upgrade("head");
  CHECK(test::catalog_tables(db) == Strings{"authors", "notes", "pgorm_version"});
  CHECK(migrator.check(models).empty());
  CHECK(migrator.current() == Strings{r.file.revision});
}

// `command` throws ConfigurationError saying why it cannot run through a transaction pooler.
template <class F>
void check_refused_for_pooler(F command) {
  try {
    command();
    FAIL("the command ran through a transaction pooler");
  } catch (const ConfigurationError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("cannot run through a transaction pooler"));
  }
}

TEST_CASE("a migrator set up for a transaction pooler refuses every command that connects",
          "[migrate]") {
  Fixture f;
  f.write("a1", "", "CREATE TABLE pooled (n int);", "DROP TABLE pooled;");
  auto options = test::migrator_options(f.db, f.dir);
  options.pooler = Pooler::transaction;
  Migrator migrator(options);
  check_refused_for_pooler([&] { migrator.upgrade("head"); });
  check_refused_for_pooler([&] { migrator.downgrade("base"); });
  check_refused_for_pooler([&] { migrator.stamp("head"); });
  check_refused_for_pooler([&] { migrator.current(); });
  check_refused_for_pooler([&] { migrator.upgrade_sql("head"); });
  // What needs no database still works.
  CHECK(migrator.heads() == Strings{"a1"});
  CHECK(migrator.upgrade_sql("head", "base").find("CREATE TABLE pooled") != std::string::npos);
  // Nothing reached the server.
  CHECK_FALSE(f.db.scalar<std::optional<std::string>>("SELECT to_regclass('pgorm_version')::text"));
  CHECK_FALSE(f.db.scalar<std::optional<std::string>>("SELECT to_regclass('pooled')::text"));
}
