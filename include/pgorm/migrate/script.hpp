// The revision file format: one plain SQL file per revision, with a header of SQL comments and an
// upgrade and a downgrade section. See docs/migrations.md for the format and the splitting rule.
//
//   -- revision: 3f2a9c1b7d4e
//   -- down_revision: 1a2b3c4d5e6f          (empty for the first; "a, b" for a merge)
//   -- message: add priority to todos
//   -- created: 2024-05-01T12:00:00Z
//
//   -- +upgrade
//   ALTER TABLE "todos" ADD COLUMN "priority" integer NOT NULL DEFAULT 0;
//
//   -- +downgrade
//   ALTER TABLE "todos" DROP COLUMN "priority";
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pgorm::migrate {

// One statement of a section.
struct Statement {
  std::string sql;              // without the terminating ';', leading comments removed
  bool no_transaction = false;  // preceded by "-- +no-transaction": runs on its own, in autocommit
  std::string comment;          // comment lines to write before it (generated files), may be empty
  int line = 0;                 // 1-based line where the statement starts in its file
  friend bool operator==(const Statement&, const Statement&) = default;
};

struct RevisionFile {
  std::string revision;
  std::vector<std::string> down_revisions;  // empty for a base revision, several for a merge
  std::string message;
  std::string created;  // ISO 8601, UTC
  std::vector<Statement> upgrade;
  std::vector<Statement> downgrade;
  std::filesystem::path path;  // where it was read from / will be written to
};

// Splits SQL text into statements at every ';' outside string literals ('...', E'...'),
// quoted identifiers ("..."), dollar-quoted bodies ($$...$$, $tag$...$tag$), line comments (--)
// and block comments (/* ... */, nested). Text after the last ';' counts as a statement when it
// holds more than whitespace and comments. `first_line` is the line number of the text's start.
// Throws MigrationError for an unterminated literal, identifier or comment, naming `source` and
// the line.
std::vector<Statement> split_statements(std::string_view sql, std::string_view source = "SQL text",
                                        int first_line = 1);

// Parses a revision file's text. Throws MigrationError naming `path` for a missing header field,
// a missing section, a statement that controls transactions (BEGIN, COMMIT, ...), or bad quoting.
RevisionFile parse_revision(std::string_view text, const std::filesystem::path& path);
RevisionFile read_revision_file(const std::filesystem::path& path);

// The file text for a revision; parse_revision(render_revision(r)) gives r back (lines aside).
std::string render_revision(const RevisionFile& revision);

// "Add priority to todos!" -> "add_priority_to_todos" (at most 40 characters).
std::string slugify(std::string_view message);
// "<revision>_<slug>.sql".
std::string revision_file_name(const RevisionFile& revision);

// Revision ids: 1 to 64 characters of [A-Za-z0-9_] (they are written into SQL and file names).
bool valid_revision_id(std::string_view id) noexcept;
// 12 random hexadecimal digits, as Alembic makes them.
std::string new_revision_id();

}  // namespace pgorm::migrate
