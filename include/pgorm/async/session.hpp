// pgorm::AsyncSession: the unit of work of Session (identity map, dirty checking, flush in
// foreign-key order, the same models, statements and errors) with coroutine I/O. A flush is sent
// as one pipeline segment (BEGIN, the INSERTs, UPDATEs and DELETEs, and COMMIT when committing):
// one network round trip. Independent calls awaited together with pgorm::gather() share one.
//
// A session is one logical thread of work: use it from coroutines on one executor (or one strand
// when the io_context runs on several threads), as with an asyncio session in Python.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgorm/async/deadline.hpp"
#include "pgorm/async/engine.hpp"
#include "pgorm/session/session.hpp"

namespace pgorm {

namespace detail {

template <class... Args>
constexpr bool ends_with_timeout() {
  if constexpr (sizeof...(Args) == 0)
    return false;
  else
    return std::is_same_v<
        std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>,
        Timeout>;
}

// f(optional timeout, args without a trailing Timeout...).
template <class F, class... Args>
decltype(auto) split_timeout(F&& f, const Args&... args) {
  if constexpr (ends_with_timeout<Args...>()) {
    auto refs = std::forward_as_tuple(args...);
    return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
      return f(std::optional<std::chrono::milliseconds>(std::get<sizeof...(Args) - 1>(refs).value),
               std::get<I>(refs)...);
    }
    (std::make_index_sequence<sizeof...(Args) - 1>{});
  } else {
    return f(std::optional<std::chrono::milliseconds>{}, args...);
  }
}

inline std::optional<std::chrono::milliseconds> timeout_value(std::optional<Timeout> t) {
  if (!t) return std::nullopt;
  return t->value;
}

}  // namespace detail

template <class Row>
class AsyncStream;

namespace detail {
// The server-side cursor of an AsyncStream (its session declares, fetches and closes it).
struct AsyncCursor {
  std::uint64_t number = 0;
  std::string name;
  std::size_t chunk_rows = 0;
  bool owns_transaction = false;  // the stream began the transaction: it ends it
  bool open = false;              // FETCH may still return rows
};
}  // namespace detail

class AsyncSession : public detail::Tracker {
 public:
  using Deadline = std::optional<AsyncClock::time_point>;
  using Ms = std::optional<std::chrono::milliseconds>;

  explicit AsyncSession(AsyncEngine engine, SessionOptions options = {});
  // Forgets tracked objects and returns the connection; an open transaction is rolled back by the
  // pool on the connection's strand (prefer co_await close() or commit()).
  ~AsyncSession();
  AsyncSession(AsyncSession&&) noexcept;
  AsyncSession& operator=(AsyncSession&&) = delete;
  AsyncSession(const AsyncSession&) = delete;
  AsyncSession& operator=(const AsyncSession&) = delete;

  // ---- the unit of work (no I/O): add, add_all, remove, expunge, contains, is_removed from
  // detail::Tracker, as Session ----

  void expire_all();

  // ---- awaitables; each takes an optional trailing Timeout ----

  // Loads a relationship of the objects with one query per level of the path, as Session::load:
  //   co_await session.load(users, &User::todos);  (the engine's default timeout applies)
  template <model T, class... Path>
  asio::awaitable<void> load(std::vector<std::shared_ptr<T>> objects, Path... path) {
    static_assert(sizeof...(Path) > 0, "pgorm: load(objects, &Model::relation, ...)");
    Deadline deadline = deadline_for({});
    co_await prepare_read(deadline);
    co_await run_loads(
        std::make_unique<detail::PathCursor<T, Path...>>(std::move(objects), path...), deadline);
  }
  template <model T, class... Path>
  asio::awaitable<void> load(std::shared_ptr<T> object, Path... path) {
    return load(std::vector<std::shared_ptr<T>>{std::move(object)}, path...);
  }

  // get<Todo>(id) or get<Todo>(id, Timeout{100ms}): from the identity map, else one SELECT.
  template <model T, class... Args>
  asio::awaitable<std::shared_ptr<T>> get(const Args&... args) {
    return detail::split_timeout(
        [this](Ms timeout, const auto&... keys) {
          static_assert(sizeof...(keys) > 0,
                        "pgorm: get<T>(key...) needs the primary key value(s)");
          return this->template get_impl<T>(detail::identity_key_of<T>(keys...),
                                            detail::ModelWork<T>::get_statement(keys...), timeout);
        },
        args...);
  }
  template <model T>
  asio::awaitable<void> refresh(std::shared_ptr<T> object, std::optional<Timeout> timeout = {}) {
    query::Statement statement = work<T>().refresh_statement(object);
    return refresh_impl<T>(std::move(object), std::move(statement), detail::timeout_value(timeout));
  }

  // Writes pending changes in one round trip; the transaction stays open.
  asio::awaitable<void> flush(std::optional<Timeout> timeout = {});
  // Flush and COMMIT in one round trip; returns the connection to the pool.
  asio::awaitable<void> commit(std::optional<Timeout> timeout = {});
  // ROLLBACK; pending objects are dropped and loaded state forgotten (objects stay valid).
  asio::awaitable<void> rollback(std::optional<Timeout> timeout = {});
  // rollback() and return the connection; the session can be used again afterwards.
  asio::awaitable<void> close(std::optional<Timeout> timeout = {});
  // BEGIN now (otherwise the session begins at its first write).
  asio::awaitable<void> begin(std::optional<Timeout> timeout = {});
  bool in_transaction() const noexcept { return in_transaction_; }

  // ---- queries, as Session's ----

  template <class Row, class From, class Models>
  auto execute(const query::Select<Row, From, Models>& select,
               std::optional<Timeout> timeout = {}) {
    bool lock = select.parts().lock != query::LockMode::none;
    if constexpr (model<Row>) {
      if (loads_relations(select))
        return load_then(select, detail::timeout_value(timeout), [](auto rows) { return rows; });
      return run_then(detail::rows_statement(select), lock, !lock, detail::timeout_value(timeout),
                      [this](const Result& r) { return work<Row>().load(r); });
    } else
      return run_then(detail::rows_statement(select), lock, !lock, detail::timeout_value(timeout),
                      [](const Result& r) { return r.as<Row>(); });
  }
  template <class Row, class From, class Models>
  auto values(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    return run_then(detail::rows_statement(select), select.parts().lock != query::LockMode::none,
                    select.parts().lock == query::LockMode::none, detail::timeout_value(timeout),
                    [](const Result& r) { return r.as<Row>(); });
  }
  template <class Row, class From, class Models>
  auto first(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    auto limited = select.limit(1);
    if constexpr (model<Row>) {
      if (loads_relations(select))
        return load_then(limited, detail::timeout_value(timeout),
                         [](auto rows) { return first_of(std::move(rows)); });
    }
    return run_then(detail::rows_statement(limited), select.parts().lock != query::LockMode::none,
                    select.parts().lock == query::LockMode::none, detail::timeout_value(timeout),
                    [this](const Result& r) { return first_of(rows_of<Row>(r)); });
  }
  template <class Row, class From, class Models>
  auto one(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    auto limited = select.limit(2);
    if constexpr (model<Row>) {
      if (loads_relations(select))
        return load_then(limited, detail::timeout_value(timeout), [](auto rows) {
          check_one(rows.size(), true);
          return std::move(rows.front());
        });
    }
    return run_then(detail::rows_statement(limited), select.parts().lock != query::LockMode::none,
                    select.parts().lock == query::LockMode::none, detail::timeout_value(timeout),
                    [this](const Result& r) {
                      auto rows = rows_of<Row>(r);
                      check_one(rows.size(), true);
                      return std::move(rows.front());
                    });
  }
  template <class Row, class From, class Models>
  auto one_or_none(const query::Select<Row, From, Models>& select,
                   std::optional<Timeout> timeout = {}) {
    auto limited = select.limit(2);
    if constexpr (model<Row>) {
      if (loads_relations(select))
        return load_then(limited, detail::timeout_value(timeout), [](auto rows) {
          check_one(rows.size(), false);
          return first_of(std::move(rows));
        });
    }
    return run_then(detail::rows_statement(limited), select.parts().lock != query::LockMode::none,
                    select.parts().lock == query::LockMode::none, detail::timeout_value(timeout),
                    [this](const Result& r) {
                      auto rows = rows_of<Row>(r);
                      check_one(rows.size(), false);
                      return first_of(std::move(rows));
                    });
  }
  template <class Row, class From, class Models>
  auto scalar(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    static_assert(!model<Row> && !detail::is_tuple<Row>::value,
                  "pgorm: scalar() needs a select of one column or expression");
    return run_then(select.statement(), false, true, detail::timeout_value(timeout),
                    [](const Result& r) {
                      auto rows = r.as<Row>();
                      check_one(rows.size(), true);
                      return std::move(rows.front());
                    });
  }
  template <class Row, class From, class Models>
  auto count(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    return run_then(select.count_statement(), false, true, detail::timeout_value(timeout),
                    [](const Result& r) { return r.value<std::int64_t>(0, 0); });
  }
  template <class Row, class From, class Models>
  auto exists(const query::Select<Row, From, Models>& select, std::optional<Timeout> timeout = {}) {
    return run_then(select.exists_statement(), false, true, detail::timeout_value(timeout),
                    [](const Result& r) { return r.value<bool>(0, 0); });
  }

  // Bulk UPDATE / DELETE / INSERT: the number of rows, or with .returning() the rows as values.
  template <model T, bool W, bool R, class S>
  auto execute(const query::Update<T, W, R, S>& statement, std::optional<Timeout> timeout = {}) {
    return write_statement<T, R>(statement.statement(), detail::timeout_value(timeout));
  }
  template <model T, bool W, bool R, class S>
  auto execute(const query::Delete<T, W, R, S>& statement, std::optional<Timeout> timeout = {}) {
    return write_statement<T, R>(statement.statement(), detail::timeout_value(timeout));
  }
  template <model T, bool R, query::ConflictStage C, class Row>
  auto execute(const query::Insert<T, R, C, Row>& statement, std::optional<Timeout> timeout = {}) {
    using Value = std::conditional_t<R, std::vector<Row>, std::int64_t>;
    if (statement.size() == 0) return ready(Value{});
    // Split as Session's (no statement over 65,535 parameters); the parts travel in one pipeline
    // segment inside the session's transaction. Multi-row texts change with the row count: sent
    // unnamed, not as prepared statements.
    auto parts = statement.statements();
    return [](AsyncSession& self, std::vector<query::Statement> parts,
              Ms timeout) -> asio::awaitable<Value> {
      Deadline deadline = self.deadline_for(timeout);
      co_await self.prepare_read(deadline);
      std::vector<PipelineStatement> statements;
      for (auto& part : parts)
        statements.push_back({std::move(part.sql), std::move(part.params), false});
      auto outcomes = co_await self.run_batch(std::move(statements), true, deadline);
      Value out{};
      for (auto& outcome : outcomes) {
        Result& result = outcome.get();
        if constexpr (R) {
          auto rows = result.template as<Row>();
          out.insert(out.end(), std::make_move_iterator(rows.begin()),
                     std::make_move_iterator(rows.end()));
        } else {
          out += result.affected_rows();
        }
      }
      co_return out;
    }(*this, std::move(parts), detail::timeout_value(timeout));
  }

  // Raw SQL with bind parameters (and an optional trailing Timeout), rows mapped to models (by
  // column name), tuples or a scalar. Inside the session's transaction, as Session::query: SQL that
  // pgorm did not write may write.
  template <class Row, class... Args>
  asio::awaitable<std::vector<Row>> query(std::string_view sql, const Args&... args) {
    return detail::split_timeout(
        [&](Ms timeout, const auto&... values) {
          Params params;
          (params.add(values), ...);
          return run_then(query::Statement{std::string(sql), std::move(params)}, true, false,
                          timeout, [](const Result& r) { return r.as<Row>(); });
        },
        args...);
  }
  // Raw SQL that writes, inside the session's transaction: the affected row count.
  template <class... Args>
  asio::awaitable<std::int64_t> execute_sql(std::string_view sql, const Args&... args) {
    return detail::split_timeout(
        [&](Ms timeout, const auto&... values) {
          Params params;
          (params.add(values), ...);
          return run_then(query::Statement{std::string(sql), std::move(params)}, true, false,
                          timeout, [](const Result& r) { return r.affected_rows(); });
        },
        args...);
  }

  // A huge result in chunks of options.chunk_rows rows through a server-side cursor, as
  // Session::stream() (docs/async.md, "Streaming"): tracked objects for select<T>(), values for a
  // select of columns. The DECLARE travels with the first FETCH (and BEGIN) in one round trip;
  // each next() is one FETCH with its own deadline (its Timeout, else the engine's default).
  //   auto todos = co_await session.stream(select<Todo>(), {.chunk_rows = 1000});
  //   while (auto chunk = co_await todos.next())
  //     for (const auto& todo : *chunk) ...
  // While the stream is open any other statement of the session throws StreamOpen.
  template <class Row, class From, class Models>
  auto stream(const query::Select<Row, From, Models>& select, StreamOptions options = {},
              std::optional<Timeout> timeout = {}) {
    using Out = std::conditional_t<model<Row>, std::shared_ptr<Row>, Row>;
    return open_stream<Out>(checked_stream_statement(select), options,
                            detail::timeout_value(timeout));
  }
  // The same, never tracked: plain values, tuples or detached objects.
  template <class Row, class From, class Models>
  asio::awaitable<AsyncStream<Row>> stream_values(const query::Select<Row, From, Models>& select,
                                                  StreamOptions options = {},
                                                  std::optional<Timeout> timeout = {}) {
    return open_stream<Row>(checked_stream_statement(select), options,
                            detail::timeout_value(timeout));
  }

  // Statements this session has sent (BEGIN and COMMIT included), as Session's.
  std::uint64_t statements_executed() const noexcept { return statements_; }
  // Unique in the process: what StatementEvent::session_id names this session by.
  std::uint64_t id() const noexcept { return id_; }
  // Network writes on this session's connections: a flush, a commit, or calls awaited together
  // with gather() count one each.
  std::uint64_t round_trips() const noexcept;
  const AsyncEngine& engine() const noexcept { return engine_; }
  const SessionOptions& options() const noexcept { return options_; }

  // ---- the building blocks (public for extensions; not needed for ordinary use) ----
  // read_only: a SELECT that may share its Sync with other reads outside a transaction.
  asio::awaitable<Result> run(query::Statement statement, bool needs_transaction, Deadline deadline,
                              bool read_only = false);
  asio::awaitable<std::vector<StatementOutcome>> run_batch(
      std::vector<PipelineStatement> statements, bool needs_transaction, Deadline deadline,
      bool read_only = false);
  Deadline deadline_for(Ms timeout) const;

 private:
  template <class Row>
  friend class AsyncStream;
  template <class Row, class From, class Models>
  static query::Statement checked_stream_statement(const query::Select<Row, From, Models>& select) {
    if (!select.eager_readers().empty() || !select.loaders().empty()) detail::throw_stream_loads();
    return select.statement();
  }
  template <class Out>
  asio::awaitable<AsyncStream<Out>> open_stream(query::Statement statement, StreamOptions options,
                                                Ms timeout) {
    detail::AsyncCursor cursor;
    cursor.chunk_rows = options.chunk_rows;
    Result first = co_await stream_declare(std::move(statement), cursor, deadline_for(timeout));
    co_return AsyncStream<Out>(*this, std::move(cursor), std::move(first));
  }
  // DECLARE and the first FETCH (with BEGIN when the session has no transaction) in one round
  // trip; the first chunk's rows. The cursor is closed at once when they are all the rows.
  asio::awaitable<Result> stream_declare(query::Statement statement, detail::AsyncCursor& cursor,
                                         Deadline deadline);
  asio::awaitable<Result> stream_fetch(detail::AsyncCursor& cursor, Deadline deadline);
  // CLOSE, or COMMIT of the transaction the stream began.
  asio::awaitable<void> stream_close(detail::AsyncCursor& cursor, Deadline deadline);
  // A stream destroyed while open: no I/O here; its CLOSE (or COMMIT) rides in front of the
  // session's next statement.
  void stream_abandon(detail::AsyncCursor& cursor) noexcept;
  // COMMIT or ROLLBACK of the transaction a stream began; objects stay as they are.
  asio::awaitable<void> end_stream_transaction(bool commit, Deadline deadline);
  // Throws StreamOpen while a stream of this session is open.
  void refuse_while_streaming() const;
  asio::awaitable<std::vector<StatementOutcome>> run_batch_impl(
      std::vector<PipelineStatement> statements, bool needs_transaction, Deadline deadline,
      bool read_only, bool stream_call);

  // A select<Model>() with relationship loading: the statement, its joined relationships, then
  // one statement per selectin level; `then` turns the objects into the call's result.
  template <class Row, class From, class Models, class F>
  asio::awaitable<std::invoke_result_t<F&, std::vector<std::shared_ptr<Row>>>> load_then(
      query::Select<Row, From, Models> select, Ms timeout, F then) {
    Deadline deadline = deadline_for(timeout);
    co_await prepare_read(deadline);
    bool lock = select.parts().lock != query::LockMode::none;
    Result result = co_await run(detail::rows_statement(select), lock, deadline, !lock);
    auto rows = work<Row>().load(result);
    detail::read_eager(select, result, rows, works_);
    for (const auto& loader : select.loaders()) co_await run_loads(loader(rows), deadline);
    co_return then(std::move(rows));
  }
  template <class Row, class From, class Models>
  static bool loads_relations(const query::Select<Row, From, Models>& select) {
    return !select.loaders().empty() || !select.eager_readers().empty();
  }
  asio::awaitable<void> run_loads(std::unique_ptr<detail::LoadCursor> cursor, Deadline deadline);

  template <class F>
  asio::awaitable<std::invoke_result_t<F&, const Result&>> run_then(query::Statement statement,
                                                                    bool needs_transaction,
                                                                    bool read_only, Ms timeout,
                                                                    F then) {
    Deadline deadline = deadline_for(timeout);
    co_await prepare_read(deadline);
    Result result = co_await run(std::move(statement), needs_transaction, deadline, read_only);
    co_return then(result);
  }
  template <model T>
  asio::awaitable<std::shared_ptr<T>> get_impl(std::optional<detail::identity_key_t<T>> key,
                                               query::Statement statement, Ms timeout) {
    Deadline deadline = deadline_for(timeout);
    if (key)
      if (auto loaded = work<T>().find_loaded(*key)) co_return *loaded;
    Result result = co_await run(std::move(statement), false, deadline, true);
    co_return work<T>().get_result(result);
  }
  template <model T>
  asio::awaitable<void> refresh_impl(std::shared_ptr<T> object, query::Statement statement,
                                     Ms timeout) {
    Result result = co_await run(std::move(statement), false, deadline_for(timeout), true);
    work<T>().apply_refresh(object, result);
  }
  template <model T, bool R>
  auto write_statement(query::Statement statement, Ms timeout) {
    if constexpr (R)
      return run_then(std::move(statement), true, false, timeout,
                      [](const Result& r) { return r.as<T>(); });
    else
      return run_then(std::move(statement), true, false, timeout,
                      [](const Result& r) { return r.affected_rows(); });
  }
  template <class V>
  static asio::awaitable<V> ready(V value) {
    co_return value;
  }
  template <class Row>
  auto rows_of(const Result& r) {
    if constexpr (model<Row>)
      return work<Row>().load(r);
    else
      return r.as<Row>();
  }
  template <class V>
  static auto first_of(std::vector<V> rows) {
    if constexpr (requires { typename V::element_type; }) {
      return rows.empty() ? V{} : std::move(rows.front());
    } else {
      return rows.empty() ? std::optional<V>{} : std::optional<V>(std::move(rows.front()));
    }
  }

  asio::awaitable<AsyncConnection*> connection(Deadline deadline);
  asio::awaitable<void> prepare_read(Deadline deadline);
  asio::awaitable<void> flush_impl(bool commit, Deadline deadline);
  // The statements of one flush (and COMMIT), as detail::FlushPlan gives them. `commit_sent` says
  // whether COMMIT went out, `committed` whether the server confirmed it.
  struct FlushProgress {
    bool commit_sent = false;
    bool committed = false;
    // COMMIT succeeded and writing the rows back into the objects failed (the rest were not).
    std::exception_ptr written_back;
  };
  asio::awaitable<void> send_flush(bool commit, Deadline deadline, FlushProgress& progress);
  asio::awaitable<void> rollback_impl(Deadline deadline);
  void after_failure() noexcept;
  void release_connection() noexcept;

  struct Acquire;
  AsyncEngine engine_;
  SessionOptions options_;
  std::optional<AsyncPooledConnection> lease_;
  std::shared_ptr<Acquire> acquiring_;  // a checkout in flight that other calls wait for
  bool in_transaction_ = false;
  bool flushing_ = false;
  // Sent with every BEGIN (detail::transaction_setup: SET LOCAL behind a transaction pooler).
  std::string transaction_setup_;
  std::optional<ErrorInfo> aborted_by_;  // the statement that failed inside the transaction
  std::uint64_t id_ = detail::next_session_id();
  std::uint64_t statements_ = 0;
  std::uint64_t round_trips_done_ = 0;  // on connections already returned
  std::uint64_t round_trips_base_ = 0;  // the current connection's count when checked out
  // Streams: the number of the open one (0: none), how many were opened (cursor names), and the
  // CLOSE or COMMIT an abandoned stream left for the next statement to carry.
  std::uint64_t open_stream_ = 0;
  std::uint64_t streams_opened_ = 0;
  std::string stream_cleanup_;
};

// async_sessionmaker(): a factory of sessions bound to one engine with the same options.
//   auto AsyncSessionLocal = pgorm::async_sessionmaker(engine, {.expire_on_commit = false});
class AsyncSessionFactory {
 public:
  explicit AsyncSessionFactory(AsyncEngine engine, SessionOptions options = {})
      : engine_(std::move(engine)), options_(options) {}
  AsyncSession operator()() const { return AsyncSession(engine_, options_); }
  const AsyncEngine& engine() const noexcept { return engine_; }

 private:
  AsyncEngine engine_;
  SessionOptions options_;
};

inline AsyncSessionFactory async_sessionmaker(AsyncEngine engine, SessionOptions options = {}) {
  return AsyncSessionFactory(std::move(engine), options);
}

}  // namespace pgorm

#include "pgorm/async/stream.hpp"
