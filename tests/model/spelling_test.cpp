// The spellings the README and docs show, compiled the way users compile them: under
// `using namespace pgorm` with glibc's <strings.h> (which declares ::index), and with designated
// initializers under -Wall -Wextra -Werror (the test build's flags), which warn about any option
// field without an initializer.
#include <strings.h>

#include <catch2/catch.hpp>

#include <pgorm/async.hpp>
#include <pgorm/pgorm.hpp>

#include "support/catalog.hpp"
#include "support/db.hpp"

using namespace pgorm;

namespace spelling {
struct Note : Model<Note, TableName<"spelling_notes">> {
  std::string title;
  std::string body;
  static constexpr auto columns =
      pgorm::columns(column<&Note::title>(varchar(80), indexed), column<&Note::body>(text));
};
}  // namespace spelling

TEST_CASE("documented option and column spellings compile cleanly and do what they say", "[unit]") {
  EngineOptions sync_options{.pool_size = 3, .max_overflow = 1};
  AsyncEngineOptions async_options{.pool_size = 2, .echo = Echo::statements};
  CHECK(sync_options.pool_size == 3);
  CHECK(sync_options.max_overflow == 1);
  CHECK(async_options.pool_size == 2);
  CHECK(async_options.echo == Echo::statements);
  std::string sql = Metadata::of<spelling::Note>().create_sql();
  CHECK(sql.find("INDEX IF NOT EXISTS \"ix_spelling_notes_title\"") != std::string::npos);
  CHECK(sql.find("ix_spelling_notes_body") == std::string::npos);
}

TEST_CASE("an index declared with indexed exists on the server", "[ddl]") {
  test::TestSchema db;
  Connection conn(db.conninfo());
  Metadata::of<spelling::Note>().create_all(conn);
  auto indexes = test::catalog_indexes(db, "spelling_notes");
  CHECK(indexes.count("ix_spelling_notes_title") == 1);
  CHECK(indexes.size() == 2);  // and the primary key's
}
