// Engine hooks that catch slow code during development: a slow-query log and an N+1 detector.
// Runs against DATABASE_URL (or libpq's PG* variables). Exits 1 when the detector misses the N+1
// loop below or flags its fixed version, so the example is also a check.
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pgorm/pgorm.hpp>

using namespace std::chrono_literals;

struct Book;

struct Author : pgorm::Model<Author, pgorm::TableName<"hooks_authors">> {
  std::string name;
  pgorm::HasMany<Book> books;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Author::name>());
  static constexpr auto relationships = pgorm::relationships(pgorm::relation<&Author::books>());
};

struct Book : pgorm::Model<Book, pgorm::TableName<"hooks_books">> {
  std::string title;
  std::int32_t author_id = 0;
  pgorm::BelongsTo<Author, &Book::author_id> author;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Book::title>(),
      pgorm::column<&Book::author_id>(pgorm::foreign_key<&Author::id>(pgorm::on_delete::cascade)));
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Book::author>(pgorm::back_populates<&Author::books>));
};

// Prints statements slower than the threshold with their duration and rows. Never the parameter
// values: they may hold passwords or personal data.
void log_if_slow(const pgorm::StatementEvent& e, std::chrono::nanoseconds threshold) {
  if (e.duration < threshold) return;
  fmt::print(stderr, "slow query ({:.1f} ms, {} rows, {}): {}\n",
             std::chrono::duration<double, std::milli>(e.duration).count(), e.rows,
             e.error ? "failed" : "ok", e.sql);
}

// Counts identical SQL texts per session; warns once when one runs more than `limit` times in a
// session, the sign of a loop sending one query per object.
class NPlusOneDetector {
 public:
  explicit NPlusOneDetector(int limit) : limit_(limit) {}

  void record(const pgorm::StatementEvent& e) {
    if (e.session_id == 0) return;                // a connection used directly, not a session
    std::lock_guard lock(mutex_);                 // hooks may run on several threads at once
    if (counts_.size() > 10000) counts_.clear();  // bounded: old sessions are forgotten
    int count = ++counts_[{e.session_id, std::string(e.sql)}];
    if (count != limit_ + 1) return;
    ++warnings_;
    fmt::print(stderr, "N+1 warning: session {} ran this {} times: {}\n", e.session_id, count,
               e.sql);
  }
  int warnings() const {
    std::lock_guard lock(mutex_);
    return warnings_;
  }

 private:
  const int limit_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::uint64_t, std::string>, int> counts_;
  int warnings_ = 0;
};

int main() try {
  NPlusOneDetector n_plus_one(5);
  pgorm::EngineOptions options;
  options.hooks.after_statement = [&](const pgorm::StatementEvent& e) {
    log_if_slow(e, 20ms);
    n_plus_one.record(e);
  };
  pgorm::Engine engine = pgorm::Engine::from_env(options);
  const auto metadata = pgorm::Metadata::of<Author, Book>();
  {
    auto conn = engine.connect();
    metadata.drop_all(*conn);
    metadata.create_all(*conn);
  }
  {
    pgorm::Session db(engine);  // a flush inserts each table's new rows with one statement
    std::vector<Author> authors(10);
    for (std::size_t a = 0; a < authors.size(); ++a) authors[a].name = fmt::format("author {}", a);
    auto added = db.add_all(authors);
    db.flush();  // the authors get their ids
    for (const auto& author : added)
      for (int b = 1; b <= 3; ++b) {
        Book book;
        book.title = fmt::format("{}, book {}", author->name, b);
        book.author_id = author->id;
        db.add(std::move(book));
      }
    db.commit();
  }

  // N+1: one query for the authors, then one per author for its books.
  int before = n_plus_one.warnings();
  std::size_t books = 0;
  {
    pgorm::Session db(engine);
    auto authors = db.execute(pgorm::select<Author>().order_by(pgorm::col<&Author::id>));
    for (const auto& author : authors) {
      db.load(author, &Author::books);
      books += author->books.size();
    }
    // A slow statement for the log; its parameter is not shown.
    db.query<std::int64_t>("SELECT count(*) FROM pg_sleep($1)", 0.03);
  }
  const bool caught = n_plus_one.warnings() > before;
  fmt::print("N+1 version: {} books, detector {}\n", books, caught ? "fired" : "silent");

  // Fixed: the books of all authors in one more statement (selectin).
  before = n_plus_one.warnings();
  books = 0;
  {
    pgorm::Session db(engine);
    auto authors = db.execute(pgorm::select<Author>()
                                  .order_by(pgorm::col<&Author::id>)
                                  .options(pgorm::selectin(&Author::books)));
    for (const auto& author : authors) books += author->books.size();
  }
  const bool false_alarm = n_plus_one.warnings() > before;
  fmt::print("selectin version: {} books, detector {}\n", books, false_alarm ? "fired" : "silent");

  {
    auto conn = engine.connect();
    metadata.drop_all(*conn);
  }
  if (!caught || false_alarm) {
    fmt::print(stderr, "FAILED: the detector {}\n",
               caught ? "fired for the fixed version" : "missed the N+1 loop");
    return 1;
  }
  fmt::print("ok\n");
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  return 1;
}
