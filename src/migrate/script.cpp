// Reading and writing revision files. One lexer serves both the statement splitting and the
// section markers, so a "-- +downgrade" line inside a dollar-quoted body is body text, not a
// marker.
#include "pgorm/migrate/script.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::migrate {
namespace {

[[noreturn]] void fail(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  throw MigrationError(std::move(info));
}

bool is_identifier_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

enum class Section { header, upgrade, downgrade };

struct LexCallbacks {
  // A statement of the current section.
  std::function<void(Statement, Section)> statement;
  // A line comment outside any statement (header fields), with its line.
  std::function<void(std::string_view, int, Section)> comment;
};

// Splits `text` into statements; with `sections`, "-- +upgrade" / "-- +downgrade" lines outside
// statements switch the section.
void lex(std::string_view text, std::string_view source, int first_line, bool sections,
         const LexCallbacks& callbacks) {
  const std::size_t n = text.size();
  std::size_t i = 0;
  int line = first_line;
  Section section = sections ? Section::header : Section::upgrade;
  std::string current;
  bool has_content = false;
  int start_line = 0;
  bool no_transaction = false;
  int no_transaction_line = 0;

  auto emit = [&] {
    Statement st;
    st.sql = std::string(trim(current));
    st.line = start_line;
    st.no_transaction = no_transaction;
    if (section == Section::header)
      fail(fmt::format("{}:{}: SQL before the '-- +upgrade' line", source, start_line));
    if (!st.sql.empty()) callbacks.statement(std::move(st), section);
    current.clear();
    has_content = false;
    no_transaction = false;
  };
  auto count_lines = [&](std::size_t from, std::size_t to) {
    line += static_cast<int>(std::count(text.begin() + static_cast<std::ptrdiff_t>(from),
                                        text.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
  };
  auto unterminated = [&](std::string_view what, int at) {
    fail(fmt::format("{}:{}: unterminated {}", source, at, what));
  };

  while (i < n) {
    char c = text[i];
    char next = i + 1 < n ? text[i + 1] : '\0';
    if (c == '-' && next == '-') {
      std::size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = n;
      if (has_content) {
        current.append(text.substr(i, end - i));
      } else {
        std::string_view body = trim(text.substr(i + 2, end - i - 2));
        if (body == "+no-transaction") {
          no_transaction = true;
          no_transaction_line = line;
        } else if (sections && (body == "+upgrade" || body == "+downgrade")) {
          if (no_transaction)
            fail(fmt::format("{}:{}: '-- +no-transaction' is not followed by a statement", source,
                             no_transaction_line));
          Section next_section = body == "+upgrade" ? Section::upgrade : Section::downgrade;
          if (next_section == Section::upgrade && section != Section::header)
            fail(fmt::format("{}:{}: a second '-- +upgrade' section", source, line));
          if (next_section == Section::downgrade && section != Section::upgrade)
            fail(fmt::format("{}:{}: '-- +downgrade' must follow the '-- +upgrade' section", source,
                             line));
          section = next_section;
        } else if (callbacks.comment) {
          callbacks.comment(text.substr(i, end - i), line, section);
        }
      }
      i = end;
      continue;
    }
    if (c == '/' && next == '*') {
      int at = line;
      std::size_t j = i + 2;
      int depth = 1;
      while (j < n && depth > 0) {
        if (text[j] == '/' && j + 1 < n && text[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (text[j] == '*' && j + 1 < n && text[j + 1] == '/') {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      }
      if (depth > 0) unterminated("block comment", at);
      if (has_content) current.append(text.substr(i, j - i));
      count_lines(i, j);
      i = j;
      continue;
    }
    if (!has_content && std::isspace(static_cast<unsigned char>(c))) {
      if (c == '\n') ++line;
      ++i;
      continue;
    }
    if (!has_content) {
      has_content = true;
      start_line = line;
    }
    if (c == ';') {
      emit();
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    if (c == '\'') {
      bool escapes = i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e') &&
                     (i < 2 || !is_identifier_char(text[i - 2]));
      for (;;) {
        if (j >= n) unterminated("string literal", line);
        if (escapes && text[j] == '\\') {
          j += 2;
        } else if (text[j] == '\'') {
          if (j + 1 < n && text[j + 1] == '\'') {
            j += 2;
          } else {
            ++j;
            break;
          }
        } else {
          ++j;
        }
      }
    } else if (c == '"') {
      for (;;) {
        if (j >= n) unterminated("quoted identifier", line);
        if (text[j] == '"') {
          if (j + 1 < n && text[j + 1] == '"') {
            j += 2;
          } else {
            ++j;
            break;
          }
        } else {
          ++j;
        }
      }
    } else if (c == '$' && (i == 0 || !is_identifier_char(text[i - 1]))) {
      std::size_t k = i + 1;
      if (k < n && !std::isdigit(static_cast<unsigned char>(text[k]))) {
        while (k < n && text[k] != '$' && is_identifier_char(text[k])) ++k;
        if (k < n && text[k] == '$') {
          std::string_view tag = text.substr(i, k - i + 1);
          std::size_t close = text.find(tag, k + 1);
          if (close == std::string_view::npos) unterminated("dollar-quoted string", line);
          j = close + tag.size();
        }
      }
    }
    current.append(text.substr(i, j - i));
    count_lines(i, j);
    i = j;
  }
  if (has_content) emit();
  if (no_transaction)
    fail(fmt::format("{}:{}: '-- +no-transaction' is not followed by a statement", source,
                     no_transaction_line));
}

std::string first_word(std::string_view sql) {
  std::string word;
  for (char c : sql) {
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return word;
}

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view item = trim(value.substr(start, comma - start));
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<Statement> split_statements(std::string_view sql, std::string_view source,
                                        int first_line) {
  std::vector<Statement> out;
  LexCallbacks callbacks;
  callbacks.statement = [&](Statement st, Section) { out.push_back(std::move(st)); };
  lex(sql, source, first_line, false, callbacks);
  return out;
}

RevisionFile parse_revision(std::string_view text, const std::filesystem::path& path) {
  RevisionFile r;
  r.path = path;
  std::string source = path.string();
  bool seen_revision = false, seen_down = false, seen_upgrade_marker = false;
  LexCallbacks callbacks;
  callbacks.statement = [&](Statement st, Section section) {
    std::string word = first_word(st.sql);
    if (word == "BEGIN" || word == "COMMIT" || word == "ROLLBACK" || word == "END" ||
        word == "ABORT" || word == "SAVEPOINT" || word == "RELEASE" ||
        (word == "START" && first_word(trim(std::string_view(st.sql).substr(5))) == "TRANSACTION"))
      fail(
          fmt::format("{}:{}: '{}' controls the transaction, which pgorm migrate does itself: "
                      "remove it (mark a statement '-- +no-transaction' to run it outside one)",
                      source, st.line, word));
    (section == Section::upgrade ? r.upgrade : r.downgrade).push_back(std::move(st));
  };
  callbacks.comment = [&](std::string_view comment, int, Section section) {
    if (section != Section::header) return;
    std::string_view body = trim(comment.substr(2));
    std::size_t colon = body.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = trim(body.substr(0, colon));
    std::string_view value = trim(body.substr(colon + 1));
    if (key == "revision" && !seen_revision) {
      r.revision = std::string(value);
      seen_revision = true;
    } else if (key == "down_revision" && !seen_down) {
      r.down_revisions = split_list(value);
      seen_down = true;
    } else if (key == "message" && r.message.empty()) {
      r.message = std::string(value);
    } else if (key == "created" && r.created.empty()) {
      r.created = std::string(value);
    }
  };
  // The header fields count only before the upgrade marker; find it to tell "missing section".
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (trim(text.substr(pos, end - pos)) == "-- +upgrade") {
      seen_upgrade_marker = true;
      break;
    }
    pos = end + 1;
  }
  if (!seen_upgrade_marker) fail(fmt::format("{}: no '-- +upgrade' section", source));
  lex(text, source, 1, true, callbacks);
  if (!seen_revision || r.revision.empty())
    fail(fmt::format("{}: the header has no '-- revision: ...' line", source));
  if (!valid_revision_id(r.revision))
    fail(fmt::format("{}: bad revision id '{}' (use 1 to 64 characters of A-Z, a-z, 0-9, _)",
                     source, r.revision));
  if (!seen_down)
    fail(
        fmt::format("{}: the header has no '-- down_revision:' line (leave it empty for the "
                    "first revision)",
                    source));
  for (const auto& d : r.down_revisions)
    if (!valid_revision_id(d)) fail(fmt::format("{}: bad down_revision '{}'", source, d));
  return r;
}

RevisionFile read_revision_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("cannot read {}", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_revision(text.str(), path);
}

namespace {
void render_statements(std::string& out, const std::vector<Statement>& statements) {
  for (const auto& st : statements) {
    out += '\n';
    std::string_view comment = st.comment;
    while (!comment.empty()) {
      std::size_t end = comment.find('\n');
      if (end == std::string_view::npos) end = comment.size();
      std::string_view line = comment.substr(0, end);
      out += line.empty() ? "--\n" : fmt::format("-- {}\n", line);
      comment.remove_prefix(std::min(end + 1, comment.size()));
    }
    if (st.sql.empty()) continue;
    if (st.no_transaction) out += "-- +no-transaction\n";
    out += st.sql;
    out += ";\n";
  }
}

std::string one_line(std::string_view text) {
  std::string out(trim(text));
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}
}  // namespace

std::string render_revision(const RevisionFile& r) {
  std::string down;
  for (const auto& d : r.down_revisions) down += (down.empty() ? "" : ", ") + d;
  std::string out =
      fmt::format("-- revision: {}\n-- down_revision: {}\n-- message: {}\n-- created: {}\n",
                  r.revision, down, one_line(r.message), r.created);
  out += "\n-- +upgrade\n";
  render_statements(out, r.upgrade);
  out += "\n-- +downgrade\n";
  render_statements(out, r.downgrade);
  return out;
}

std::string slugify(std::string_view message) {
  std::string out;
  for (char c : message) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      out.push_back(static_cast<char>(std::tolower(u)));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "revision" : out;
}

std::string revision_file_name(const RevisionFile& revision) {
  return revision.revision + "_" + slugify(revision.message) + ".sql";
}

bool valid_revision_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string new_revision_id() {
  std::random_device random;
  std::mt19937_64 engine((static_cast<std::uint64_t>(random()) << 32) ^ random());
  return fmt::format("{:012x}", engine() & 0xffffffffffffULL);
}

}  // namespace pgorm::migrate
