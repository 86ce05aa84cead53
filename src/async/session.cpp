// AsyncSession: Session's unit of work over AsyncConnection pipelines. The per-model work
// (detail::ModelWork) is Session's own; only how statements reach the server differs.
#include "pgorm/async/session.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "pgorm/sql/quote.hpp"

namespace pgorm {
namespace {
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

PipelineStatement plain(std::string sql) {
  return PipelineStatement{std::move(sql), {}, false};
}

// What a failed flush or commit reports. While COMMIT was on its way:
//  - the connection broke, or a deadline discarded it before COMMIT's answer arrived: nobody
//    knows (TransactionInDoubt);
//  - a deadline cancelled the segment on the server and its answer was read back: COMMIT did not
//    run (DeadlineExceeded, and the session rolled back);
//  - the client failed (std::bad_alloc): nobody knows either (TransactionInDoubt);
//  - anything else is the server's answer: not committed, reported as it is.
struct FlushFailure {
  std::exception_ptr failure;
  std::optional<ErrorInfo> in_doubt;
  std::optional<ErrorInfo> cancelled;

  std::exception_ptr error() {
    if (in_doubt) return std::make_exception_ptr(TransactionInDoubt(std::move(*in_doubt)));
    if (cancelled) return std::make_exception_ptr(DeadlineExceeded(std::move(*cancelled)));
    return failure;
  }
};

FlushFailure classify(std::exception_ptr failure, bool commit, bool commit_sent, bool discarded) {
  FlushFailure out{failure, std::nullopt, std::nullopt};
  try {
    std::rethrow_exception(failure);
  } catch (const Disconnect& e) {
    if (commit_sent)
      out.in_doubt = detail::commit_in_doubt(e.info(), "the connection broke during COMMIT");
  } catch (const DeadlineExceeded& e) {
    // A connection the deadline made unusable was discarded before its answers were read.
    if (commit_sent && discarded)
      out.in_doubt = detail::commit_in_doubt(
          e.info(),
          "the deadline passed during COMMIT and the connection was discarded before its answer "
          "arrived");
    else if (commit)
      out.cancelled = detail::commit_cancelled(e.info());
  } catch (const Error&) {
  } catch (...) {
    // Not the server's answer: the client failed (std::bad_alloc) with COMMIT on its way. The
    // batch may have been queued on the connection before the failure, and be sent after it:
    // unknown, even when the connection is still usable (pessimistic when the failure came
    // before the batch was queued, or after the server refused a write of it).
    if (commit_sent)
      out.in_doubt = detail::commit_in_doubt(detail::info_of(failure),
                                             "reading the answer to COMMIT failed in the client");
  }
  return out;
}

}  // namespace

// A checkout in flight: calls that need the connection meanwhile wait for its timer.
struct AsyncSession::Acquire {
  explicit Acquire(const asio::any_io_executor& ex) : timer(ex, AsyncClock::time_point::max()) {}
  asio::steady_timer timer;
  std::exception_ptr error;
};

AsyncSession::AsyncSession(AsyncEngine engine, SessionOptions options)
    : engine_(std::move(engine)),
      options_(options),
      transaction_setup_(detail::transaction_setup(engine_.options())) {}

AsyncSession::~AsyncSession() {
  for (auto& [key, w] : works_) w->expire(false);
  // The pool rolls back a connection returned inside a transaction before reusing it.
  lease_.reset();
}

AsyncSession::AsyncSession(AsyncSession&&) noexcept = default;

AsyncSession::Deadline AsyncSession::deadline_for(Ms timeout) const {
  return detail::deadline_of(timeout ? timeout : engine_.options().default_timeout);
}

std::uint64_t AsyncSession::round_trips() const noexcept {
  std::uint64_t current = lease_ && *lease_ ? (*lease_)->round_trips() - round_trips_base_ : 0;
  return round_trips_done_ + current;
}

void AsyncSession::expire_all() {
  for (auto& [key, w] : works_) w->expire(true);
}

asio::awaitable<AsyncConnection*> AsyncSession::connection(Deadline deadline) {
  if (lease_) co_return &lease_->get();
  if (acquiring_) {
    auto acquire = acquiring_;
    co_await acquire->timer.async_wait(as_tuple_awaitable);
    if (acquire->error) std::rethrow_exception(acquire->error);
    if (lease_) co_return &lease_->get();
  }
  auto acquire = std::make_shared<Acquire>(co_await asio::this_coro::executor);
  acquiring_ = acquire;
  try {
    lease_.emplace(co_await engine_.connect(deadline));
    round_trips_base_ = (*lease_)->round_trips();
    (*lease_)->set_session_id(id_);
  } catch (...) {
    acquire->error = std::current_exception();
  }
  acquiring_.reset();
  acquire->timer.cancel();
  if (acquire->error) std::rethrow_exception(acquire->error);
  co_return &lease_->get();
}

void AsyncSession::release_connection() noexcept {
  if (in_transaction_ || !lease_) return;
  stream_cleanup_.clear();  // the pool ends what is left open on the connection
  if (*lease_) round_trips_done_ += (*lease_)->round_trips() - round_trips_base_;
  lease_.reset();
}

// The connection broke (or was discarded after a deadline): the transaction is gone.
void AsyncSession::after_failure() noexcept {
  stream_cleanup_.clear();
  open_stream_ = 0;
  if (lease_) {
    if (*lease_) round_trips_done_ += (*lease_)->round_trips() - round_trips_base_;
    lease_->invalidate();
    lease_.reset();
  }
  in_transaction_ = false;
  aborted_by_.reset();
  for (auto& [key, w] : works_) w->expire(false);
}

asio::awaitable<std::vector<StatementOutcome>> AsyncSession::run_batch(
    std::vector<PipelineStatement> statements, bool needs_transaction, Deadline deadline,
    bool read_only) {
  return run_batch_impl(std::move(statements), needs_transaction, deadline, read_only, false);
}

asio::awaitable<std::vector<StatementOutcome>> AsyncSession::run_batch_impl(
    std::vector<PipelineStatement> statements, bool needs_transaction, Deadline deadline,
    bool read_only, bool stream_call) {
  if (!stream_call) refuse_while_streaming();
  AsyncConnection* c = co_await connection(deadline);
  std::size_t began = 0;  // statements of the BEGIN in front of the caller's
  if (needs_transaction && !in_transaction_) {
    // BEGIN rides in the same segment: no round trip of its own; so do settings a transaction
    // pooler cannot keep per client (SET LOCAL ...).
    std::vector<PipelineStatement> begin;
    begin.push_back(plain("BEGIN"));
    if (!transaction_setup_.empty()) begin.push_back(plain(transaction_setup_));
    began = begin.size();
    statements.insert(statements.begin(), std::make_move_iterator(begin.begin()),
                      std::make_move_iterator(begin.end()));
    in_transaction_ = true;
  }
  // What a stream destroyed while open left to do (CLOSE, or COMMIT of the transaction it began)
  // goes first, in the same round trip; its outcome is not the caller's.
  std::size_t cleanup = 0;
  if (!stream_cleanup_.empty()) {
    statements.insert(statements.begin(), plain(std::exchange(stream_cleanup_, {})));
    cleanup = 1;
  }
  statements_ += statements.size();
  std::vector<StatementOutcome> outcomes;
  std::exception_ptr failure;
  try {
    // Reads outside a transaction may share a Sync with the other reads written with them.
    Segments segments = read_only && !in_transaction_ && statements.size() == 1
                            ? Segments::shared_reads
                            : Segments::one;
    outcomes = co_await c->pipeline(std::move(statements), deadline, segments);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    if (!c->is_usable()) after_failure();
    std::rethrow_exception(failure);
  }
  if (cleanup && outcomes.size() >= cleanup)
    outcomes.erase(outcomes.begin(), outcomes.begin() + static_cast<std::ptrdiff_t>(cleanup));
  for (auto& o : outcomes) {
    if (o.ok()) continue;
    try {
      std::rethrow_exception(o.error);
    } catch (const Disconnect&) {
      after_failure();
      break;
    } catch (const Error& e) {
      // Remembered for the error a later COMMIT reports (the transaction is aborted now).
      if (in_transaction_ && !aborted_by_) aborted_by_ = e.info();
    } catch (...) {
    }
  }
  if (began) {
    auto failed =
        std::find_if(outcomes.begin(), outcomes.begin() + static_cast<std::ptrdiff_t>(began),
                     [](const StatementOutcome& o) { return !o.ok(); });
    if (failed != outcomes.begin() + static_cast<std::ptrdiff_t>(began)) {
      std::exception_ptr root = failed->error;
      if (lease_ && failed == outcomes.begin()) {
        in_transaction_ = false;
        aborted_by_.reset();
      }
      // The caller's statements did not run because BEGIN failed: they report BEGIN's error (a
      // Disconnect stays a Disconnect, so retry logic sees it).
      for (auto& o : outcomes)
        if (!o.ok()) o.error = root;
    }
    outcomes.erase(outcomes.begin(), outcomes.begin() + static_cast<std::ptrdiff_t>(began));
  }
  co_return outcomes;
}

asio::awaitable<void> AsyncSession::run_loads(std::unique_ptr<detail::LoadCursor> cursor,
                                              Deadline deadline) {
  while (auto statement = cursor->next()) {
    Result result = co_await run(std::move(*statement), false, deadline, true);
    cursor->feed(result, works_);
  }
}

asio::awaitable<Result> AsyncSession::run(query::Statement statement, bool needs_transaction,
                                          Deadline deadline, bool read_only) {
  std::vector<PipelineStatement> one;
  one.push_back({std::move(statement.sql), std::move(statement.params), true});
  auto outcomes = co_await run_batch(std::move(one), needs_transaction, deadline, read_only);
  co_return std::move(outcomes.front().get());
}

asio::awaitable<void> AsyncSession::prepare_read(Deadline deadline) {
  if (options_.autoflush && !flushing_) co_await flush_impl(false, deadline);
}

asio::awaitable<void> AsyncSession::flush(std::optional<Timeout> timeout) {
  return flush_impl(false, deadline_for(detail::timeout_value(timeout)));
}

asio::awaitable<void> AsyncSession::commit(std::optional<Timeout> timeout) {
  return flush_impl(true, deadline_for(detail::timeout_value(timeout)));
}

// The flush planned by detail::FlushPlan, sent as pipelines: the cascades' reads together, then
// one segment per batch of writes (normally one in all), with COMMIT in the last one when
// committing and no statement in it can still fail the flush once its result is read.
asio::awaitable<void> AsyncSession::send_flush(bool commit, Deadline deadline,
                                               FlushProgress& progress) {
  // A statement failed inside the transaction (its error may have been caught): the server
  // would answer COMMIT with ROLLBACK. Say so instead of returning as if it had committed.
  if (commit && in_transaction_ && lease_ && *lease_ &&
      (*lease_)->transaction_status() == TransactionStatus::in_error)
    detail::throw_rolled_back(
        aborted_by_, "COMMIT was refused because an earlier statement of the transaction failed");
  detail::FlushPlan plan(*this, works_);
  for (auto reads = plan.cascade(); !reads.empty(); reads = plan.cascade()) {
    std::vector<PipelineStatement> statements;
    statements.reserve(reads.size());
    for (auto& r : reads)
      statements.push_back({std::move(r.statement.sql), std::move(r.statement.params), true});
    auto outcomes = co_await run_batch(std::move(statements), false, deadline, true);
    for (auto& o : outcomes)
      if (!o.ok()) std::rethrow_exception(o.error);
    for (std::size_t i = 0; i < reads.size(); ++i)
      if (reads[i].apply) reads[i].apply(outcomes[i].result);
  }
  while (!plan.done()) {
    auto writes = plan.next();
    if (writes.empty()) break;
    // An UPDATE or DELETE that matched no row fails the flush (StaleDataError), which is only
    // known once its result is read: COMMIT then goes in a segment of its own, after them, so
    // that a stale row can never be reported for a transaction that committed.
    bool with_commit = commit && plan.done() &&
                       std::none_of(writes.begin(), writes.end(),
                                    [](const detail::PlannedWrite& w) { return w.checked; });
    std::vector<PipelineStatement> statements;
    statements.reserve(writes.size() + 1);
    for (auto& w : writes)
      statements.push_back({std::move(w.statement.sql), std::move(w.statement.params), true});
    if (with_commit) statements.push_back(plain("COMMIT"));
    progress.commit_sent = with_commit;
    auto outcomes = co_await run_batch(std::move(statements), true, deadline);
    // In statement order: the first failed statement has the real error (the rest of the
    // segment was skipped), unless a statement that completed before it failed the flush first
    // (an UPDATE that matched no row is a StaleDataError).
    bool all_ok = std::all_of(outcomes.begin(), outcomes.end(),
                              [](const StatementOutcome& o) { return o.ok(); });
    if (with_commit && all_ok) {
      if (outcomes.back().result.command_tag() == "ROLLBACK")
        detail::throw_rolled_back(aborted_by_, "the server answered COMMIT with ROLLBACK");
      progress.committed = true;  // whatever writing back the results below does
    }
    for (std::size_t i = 0; i < writes.size() && !progress.written_back; ++i) {
      if (!outcomes[i].ok()) std::rethrow_exception(outcomes[i].error);
      if (!writes[i].apply) continue;
      if (!progress.committed) {
        writes[i].apply(outcomes[i].result);
        continue;
      }
      try {
        writes[i].apply(outcomes[i].result);
      } catch (...) {
        progress.written_back = std::current_exception();  // the rest are not written back
      }
    }
    if (!all_ok) std::rethrow_exception(outcomes.back().error);  // COMMIT (a deferred violation)
    // Nothing to do (and nothing allocated) after a segment with COMMIT: a DELETE is checked,
    // so COMMIT never rides with one.
    forget_deleted();
  }
  if (commit && !progress.committed && in_transaction_) {
    std::vector<PipelineStatement> one;
    one.push_back(plain("COMMIT"));
    progress.commit_sent = true;
    auto outcomes = co_await run_batch(std::move(one), false, deadline);
    if (!outcomes.front().ok()) std::rethrow_exception(outcomes.front().error);
    if (outcomes.front().result.command_tag() == "ROLLBACK")
      detail::throw_rolled_back(aborted_by_, "the server answered COMMIT with ROLLBACK");
    progress.committed = true;
  }
}

// Runs send_flush and turns a failure into the outcome the caller can act on (classify()),
// rolling back whatever the failed flush left.
asio::awaitable<void> AsyncSession::flush_impl(bool commit, Deadline deadline) {
  refuse_while_streaming();
  if (flushing_) co_return;
  flushing_ = true;
  std::exception_ptr failure;
  FlushProgress progress;
  try {
    co_await send_flush(commit, deadline, progress);
  } catch (...) {
    failure = std::current_exception();
  }
  flushing_ = false;
  if (progress.committed && (failure || progress.written_back)) {
    // COMMIT succeeded; what failed is writing the server's values (keys, defaults) back into
    // the objects. The caller must not take this for a failed transaction and retry it.
    in_transaction_ = false;
    aborted_by_.reset();
    expire_all();
    release_connection();
    if (progress.written_back)
      detail::throw_committed_but(progress.written_back,
                                  "reading the written rows back into the objects");
    detail::throw_committed_but(failure, "finishing the flush");
  }
  if (failure) {
    bool discarded = !lease_ || !*lease_ || !(*lease_)->is_usable();
    FlushFailure outcome = classify(failure, commit, progress.commit_sent, discarded);
    // A failed flush leaves the transaction unusable (PostgreSQL keeps it failed after the
    // Sync): roll it back so that nothing of it stays. Its own deadline may have passed already.
    Deadline rollback_deadline = deadline;
    if (deadline && *deadline <= AsyncClock::now()) rollback_deadline = deadline_for({});
    co_await rollback_impl(rollback_deadline);
    std::rethrow_exception(outcome.error());
  }
  if (commit) {
    if (progress.committed) {
      in_transaction_ = false;
      aborted_by_.reset();
    }
    if (options_.expire_on_commit) expire_all();
    release_connection();
  }
}

asio::awaitable<void> AsyncSession::rollback_impl(Deadline deadline) {
  open_stream_ = 0;  // ROLLBACK ends the cursor of an open stream too
  // A COMMIT the server refused has ended the transaction already: no ROLLBACK to send.
  if (in_transaction_ && lease_ &&
      !(*lease_ && (*lease_)->transaction_status() == TransactionStatus::idle)) {
    ++statements_;
    bool failed = false;
    try {
      std::vector<PipelineStatement> one;
      one.push_back(plain("ROLLBACK"));
      auto outcomes = co_await lease_->get().pipeline(std::move(one), deadline);
      failed = !outcomes.front().ok();
    } catch (...) {
      failed = true;
    }
    if (failed) after_failure();
  }
  in_transaction_ = false;
  aborted_by_.reset();
  for (auto& [key, w] : works_) w->expire(false);
  release_connection();
}

asio::awaitable<void> AsyncSession::rollback(std::optional<Timeout> timeout) {
  return rollback_impl(deadline_for(detail::timeout_value(timeout)));
}

asio::awaitable<void> AsyncSession::close(std::optional<Timeout> timeout) {
  return rollback_impl(deadline_for(detail::timeout_value(timeout)));
}

asio::awaitable<void> AsyncSession::begin(std::optional<Timeout> timeout) {
  refuse_while_streaming();
  if (in_transaction_) {
    ErrorInfo info;
    info.message = "begin(): the session is already in a transaction";
    throw InterfaceError(std::move(info));
  }
  std::vector<PipelineStatement> none;  // run_batch adds the BEGIN
  co_await run_batch(std::move(none), true, deadline_for(detail::timeout_value(timeout)));
}

// ---- streams ----

void AsyncSession::refuse_while_streaming() const {
  if (open_stream_ == 0) return;
  ErrorInfo info;
  info.message =
      "a stream of this session is open: its cursor holds the session's transaction, so no other "
      "statement can run on the session until the stream is read to its end, closed or destroyed "
      "(use another session for other work meanwhile)";
  throw StreamOpen(std::move(info));
}

asio::awaitable<void> AsyncSession::end_stream_transaction(bool commit, Deadline deadline) {
  std::vector<PipelineStatement> one;
  one.push_back(plain(commit ? "COMMIT" : "ROLLBACK"));
  std::exception_ptr failure;
  try {
    auto outcomes = co_await run_batch_impl(std::move(one), false, deadline, false, true);
    if (!outcomes.front().ok()) failure = outcomes.front().error;
  } catch (...) {
    failure = std::current_exception();
  }
  in_transaction_ = false;
  aborted_by_.reset();
  if (failure && lease_) {
    // The transaction's end is not confirmed: the connection goes, and the server ends the
    // transaction with it. Only the cursor ran in it, so no object needs to forget anything.
    if (*lease_) round_trips_done_ += (*lease_)->round_trips() - round_trips_base_;
    lease_->invalidate();
    lease_.reset();
  }
  release_connection();
  if (failure && commit) std::rethrow_exception(failure);
}

asio::awaitable<Result> AsyncSession::stream_declare(query::Statement statement,
                                                     detail::AsyncCursor& cursor,
                                                     Deadline deadline) {
  refuse_while_streaming();
  if (cursor.chunk_rows == 0 || cursor.chunk_rows > 100000000) {
    ErrorInfo info;
    info.message = fmt::format(
        "stream(): chunk_rows must be between 1 and 100000000 rows, not {}", cursor.chunk_rows);
    throw ProgrammingError(std::move(info));
  }
  co_await prepare_read(deadline);
  // The cursor needs a transaction: when the session has none, the stream begins one and ends it
  // with itself (nothing else can run in it meanwhile).
  bool owns = !in_transaction_;
  std::uint64_t number = ++streams_opened_;
  std::string name = sql::quote_identifier(fmt::format("pgorm_stream_{}", number));
  std::vector<PipelineStatement> statements;
  statements.push_back(
      {"DECLARE " + name + " NO SCROLL CURSOR FOR " + statement.sql, std::move(statement.params),
       false});
  statements.push_back(plain(fmt::format("FETCH FORWARD {} FROM {}", cursor.chunk_rows, name)));
  std::exception_ptr failure;
  std::vector<StatementOutcome> outcomes;
  try {
    outcomes = co_await run_batch_impl(std::move(statements), true, deadline, false, true);
    for (auto& o : outcomes)
      if (!o.ok()) {
        failure = o.error;
        break;
      }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    if (owns && in_transaction_) co_await end_stream_transaction(false, deadline);
    std::rethrow_exception(failure);
  }
  cursor.number = number;
  cursor.name = std::move(name);
  cursor.owns_transaction = owns;
  cursor.open = true;
  open_stream_ = number;
  Result first = std::move(outcomes[1].result);
  if (static_cast<std::size_t>(first.rows()) < cursor.chunk_rows)
    co_await stream_close(cursor, deadline);
  co_return first;
}

asio::awaitable<Result> AsyncSession::stream_fetch(detail::AsyncCursor& cursor,
                                                   Deadline deadline) {
  if (!cursor.open) co_return Result();
  if (open_stream_ != cursor.number) {
    cursor.open = false;
    ErrorInfo info;
    info.message =
        "the stream was ended by its session (rollback(), close() or a broken connection) before "
        "it was read to its end";
    throw InterfaceError(std::move(info));
  }
  std::vector<PipelineStatement> one;
  one.push_back(plain(fmt::format("FETCH FORWARD {} FROM {}", cursor.chunk_rows, cursor.name)));
  std::exception_ptr failure;
  Result result;
  try {
    auto outcomes = co_await run_batch_impl(std::move(one), true, deadline, false, true);
    if (outcomes.front().ok())
      result = std::move(outcomes.front().result);
    else
      failure = outcomes.front().error;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // The transaction is aborted (or gone with the connection): the stream is over.
    cursor.open = false;
    open_stream_ = 0;
    if (cursor.owns_transaction && in_transaction_)
      co_await end_stream_transaction(false, deadline);
    std::rethrow_exception(failure);
  }
  if (static_cast<std::size_t>(result.rows()) < cursor.chunk_rows)
    co_await stream_close(cursor, deadline);
  co_return result;
}

asio::awaitable<void> AsyncSession::stream_close(detail::AsyncCursor& cursor, Deadline deadline) {
  if (!cursor.open) co_return;
  cursor.open = false;
  if (open_stream_ != cursor.number) co_return;
  open_stream_ = 0;
  if (cursor.owns_transaction && in_transaction_) {
    co_await end_stream_transaction(true, deadline);
    co_return;
  }
  std::vector<PipelineStatement> one;
  one.push_back(plain("CLOSE " + cursor.name));
  auto outcomes = co_await run_batch_impl(std::move(one), true, deadline, false, true);
  if (!outcomes.front().ok()) std::rethrow_exception(outcomes.front().error);
}

void AsyncSession::stream_abandon(detail::AsyncCursor& cursor) noexcept {
  if (!cursor.open) return;
  cursor.open = false;
  if (open_stream_ != cursor.number) return;
  open_stream_ = 0;
  if (!lease_) return;
  if (cursor.owns_transaction && in_transaction_) {
    // The session is outside a transaction again at once; the COMMIT that ends the stream's goes
    // out with the next statement (or the pool rolls it back when the connection returns).
    stream_cleanup_ = "COMMIT";
    in_transaction_ = false;
    aborted_by_.reset();
  } else {
    stream_cleanup_ = "CLOSE " + cursor.name;
  }
}

}  // namespace pgorm
