// The benchmark harness's shared vocabulary: workloads, the seed's shape, timing, and the
// hand-written row type and decoders that the raw-driver contenders use.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define PGORM_BENCH_TOGGLE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define PGORM_BENCH_TOGGLE_COLLECT() ((void)0)
#define CALLGRIND_ZERO_STATS ((void)0)
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

namespace bench {

// ---- the seed and the workload sizes (issue 7) ----
// 5,000 users x 20 todos = 100,000 todos; every 97th todo is soft-deleted, every 10th mentions
// milk, statuses cycle pending/completed/archived.
inline constexpr int kUsers = 5000;
inline constexpr int kTodosPerUser = 20;
inline constexpr int kTodos = kUsers * kTodosPerUser;
inline constexpr int kInsertOne = 2000;    // insert one row per transaction
inline constexpr int kBulk = 10000;        // rows inserted in one transaction
inline constexpr int kGets = 5000;         // lookups by primary key
inline constexpr int kLoadSmall = 10000;   // ids <= 10,000 (live rows only)
inline constexpr int kUsersLoaded = 1000;  // users with their todos
inline constexpr int kUpdates = 1000;      // loaded objects changed and committed
inline constexpr int kListQueries = 100;   // filtered, ordered, paginated selects
inline constexpr int kPageSize = 20;

// The primary key of the k-th lookup (the same sequence for every contender).
inline std::int32_t lookup_id(int k) {
  return 1 + static_cast<std::int32_t>((k * 7919L) % kTodos);
}
// The offset of the k-th page of the list workload.
inline int list_offset(int k) {
  return (k % 25) * kPageSize;
}

// What one run of one workload by one contender measured. `rows` is a checksum of the work done
// (rows read or written): the harness checks that every contender of a workload agrees.
struct Outcome {
  double seconds = 0;
  std::int64_t rows = 0;
};

struct Entry {
  std::string workload;
  std::string contender;
  std::function<Outcome()> run;
};

class Registry {
 public:
  void add(std::string workload, std::string contender, std::function<Outcome()> run) {
    entries_.push_back({std::move(workload), std::move(contender), std::move(run)});
  }
  std::vector<Entry>& entries() { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Runs f and returns the seconds it took. Under valgrind --collect-atstart=no, only these
// regions are counted, so instruction counts exclude setup and seeding.
template <class F>
double timed(F&& f) {
  PGORM_BENCH_TOGGLE_COLLECT();
  auto start = std::chrono::steady_clock::now();
  f();
  auto stop = std::chrono::steady_clock::now();
  PGORM_BENCH_TOGGLE_COLLECT();
  return std::chrono::duration<double>(stop - start).count();
}

// ---- the hand-written side: what a careful programmer writes over a raw driver ----

enum class Status { pending, completed, archived };

struct TodoRow {
  std::int32_t id = 0;
  std::string title;
  std::optional<std::string> description;
  Status status = Status::pending;
  std::int32_t user_id = 0;
  std::int64_t created_at = 0;  // microseconds since 1970, UTC
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> deleted_at;
};

struct UserRow {
  std::int32_t id = 0;
  std::string email;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

[[noreturn]] inline void bad_field(std::string_view what, std::string_view text) {
  throw std::runtime_error("bench: cannot decode " + std::string(what) + ": '" + std::string(text) +
                           "'");
}

inline std::int32_t parse_int(std::string_view s) {
  std::int32_t v = 0;
  bool negative = !s.empty() && s[0] == '-';
  for (std::size_t i = negative ? 1 : 0; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') bad_field("integer", s);
    v = v * 10 + (s[i] - '0');
  }
  return negative ? -v : v;
}

inline Status parse_status(std::string_view s) {
  if (s == "pending") return Status::pending;
  if (s == "completed") return Status::completed;
  if (s == "archived") return Status::archived;
  bad_field("status", s);
}

inline std::string_view status_text(Status s) {
  switch (s) {
    case Status::pending:
      return "pending";
    case Status::completed:
      return "completed";
    case Status::archived:
      return "archived";
  }
  return "pending";
}

// "2024-11-24 11:50:24.123456+00" (DateStyle ISO, TimeZone UTC) -> microseconds since 1970.
inline std::int64_t parse_timestamp(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n) {
    std::int64_t v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') bad_field("timestamp", s);
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  std::int64_t y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
  std::int64_t hh = digits(11, 2), mm = digits(14, 2), ss = digits(17, 2);
  std::int64_t micros = 0;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t n = 0;
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      micros = micros * 10 + (s[pos++] - '0');
      ++n;
    }
    for (; n < 6; ++n) micros *= 10;
  }
  if (s.substr(pos) != "+00") bad_field("timestamp", s);
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + hh) * 60 + mm) * 60 * 1'000'000 + ss * 1'000'000 + micros;
}

// The rows the insert workloads write (the same values for every contender).
inline TodoRow new_todo(int i) {
  TodoRow t;
  t.title = "New todo to insert #" + std::to_string(i);
  if (i % 2 == 0) t.description = "Inserted by the benchmark, row " + std::to_string(i);
  t.user_id = 1 + i % kUsers;
  return t;
}

// ---- the SQL the raw contenders send: the same text pgorm renders, so the server does the same
// work for everyone (checked at start-up against pgorm's own rendering) ----
namespace sql {
inline constexpr std::string_view kTodoColumns =
    "\"id\", \"title\", \"description\", \"status\", \"user_id\", \"created_at\", \"updated_at\", "
    "\"deleted_at\"";
inline const std::string kGetTodo = "SELECT " + std::string(kTodoColumns) +
                                    " FROM \"todos\" WHERE \"id\" = $1 AND \"deleted_at\" IS NULL";
// The query builder qualifies every column.
inline const std::string kSelectTodos =
    "SELECT \"todos\".\"id\", \"todos\".\"title\", \"todos\".\"description\", "
    "\"todos\".\"status\", \"todos\".\"user_id\", \"todos\".\"created_at\", "
    "\"todos\".\"updated_at\", \"todos\".\"deleted_at\" FROM \"todos\"";
inline const std::string kLoadUpTo =
    kSelectTodos + " WHERE \"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"id\" <= $1)";
inline const std::string kLoadAll = kSelectTodos + " WHERE \"todos\".\"deleted_at\" IS NULL";
inline const std::string kUsersUpTo =
    "SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"created_at\", "
    "\"users\".\"updated_at\" FROM \"users\" WHERE "
    "(\"users\".\"id\" <= $1) ORDER BY \"users\".\"id\"";
inline const std::string kTodosOfUsers =
    kSelectTodos + " WHERE \"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"user_id\" = ANY($1))";
inline const std::string kList =
    kSelectTodos +
    " WHERE \"todos\".\"deleted_at\" IS NULL AND ((\"todos\".\"status\" = $1) AND "
    "(\"todos\".\"title\" ILIKE $2)) ORDER BY \"todos\".\"created_at\" DESC LIMIT $3 OFFSET $4";
inline constexpr std::string_view kInsertTodo =
    "INSERT INTO \"todos\" (\"title\", \"description\", \"status\", \"user_id\") VALUES ($1, $2, "
    "$3, $4) RETURNING \"id\"";
inline constexpr std::string_view kUpdateDescription =
    "UPDATE \"todos\" SET \"description\" = $1, \"updated_at\" = now() WHERE \"id\" = $2";
// What pgorm's flush sends for many objects changing the same column (one statement for all).
inline const std::string kUpdateDescriptions =
    "UPDATE \"todos\" SET \"description\" = \"pgorm_v\".\"c1\", \"updated_at\" = now() FROM "
    "unnest($1::integer[], $2::text[]) WITH ORDINALITY AS \"pgorm_v\"(\"c0\", \"c1\", \"n\") "
    "WHERE \"todos\".\"id\" = \"pgorm_v\".\"c0\" AND \"todos\".\"id\" = ANY($1::integer[]) "
    "RETURNING \"todos\".\"id\", \"todos\".\"title\", \"todos\".\"description\", "
    "\"todos\".\"status\", \"todos\".\"user_id\", \"todos\".\"created_at\", "
    "\"todos\".\"updated_at\", \"todos\".\"deleted_at\", \"pgorm_v\".\"n\"";
inline constexpr std::string_view kCopyTodos =
    "COPY \"todos\" (\"title\", \"description\", \"status\", \"user_id\") FROM STDIN";
}  // namespace sql

// Update runs are numbered across all contenders, so each run writes new values and every
// loaded object really is dirty.
inline long next_update_run() {
  static long run = 0;
  return ++run;
}
inline std::string updated_description(long run, int id) {
  return "updated in C++ run " + std::to_string(run) + " #" + std::to_string(id);
}

// Groups todos under their users (in the users' order): what every users-with-todos contender
// hands back. Rows are moved, not copied.
template <class U, class T, class UserId, class TodoUserId>
std::vector<std::vector<T>> group_by_user(const std::vector<U>& users, std::vector<T>& todos,
                                          UserId user_id, TodoUserId todo_user_id) {
  std::unordered_map<std::int32_t, std::size_t> position;
  position.reserve(users.size());
  for (std::size_t i = 0; i < users.size(); ++i) position.emplace(user_id(users[i]), i);
  std::vector<std::vector<T>> out(users.size());
  for (auto& t : todos) out[position.at(todo_user_id(t))].push_back(std::move(t));
  return out;
}

// Contenders register their workloads here (one translation unit each).
void register_libpq(Registry& registry, const std::string& conninfo);
void register_pqxx(Registry& registry, const std::string& conninfo);
void register_pgorm(Registry& registry, const std::string& conninfo);

// Peak-RSS probes for loading every todo: run in a forked child, return the rows loaded and the
// bytes the resulting objects own (sizeof plus heap strings).
struct Loaded {
  std::int64_t rows = 0;
  std::int64_t object_bytes = 0;
};
Loaded load_all_libpq(const std::string& conninfo);
Loaded load_all_pgorm_tracked(const std::string& conninfo);
Loaded load_all_pgorm_values(const std::string& conninfo);

// The bytes a string owns beyond its own object (nothing when it fits the small-string buffer).
inline std::int64_t heap_bytes(const std::string& s) {
  return s.capacity() > 15 ? static_cast<std::int64_t>(s.capacity() + 1) : 0;
}

}  // namespace bench
