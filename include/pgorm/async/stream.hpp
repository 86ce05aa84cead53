// pgorm::AsyncStream: the rows of AsyncSession::stream(), one chunk per co_await next(), read
// through a server-side cursor so that a result of any size takes constant memory.
// Included by async/session.hpp.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "pgorm/async/session.hpp"

namespace pgorm {

// Row is std::shared_ptr<T> for tracked objects, a value otherwise. A tracked stream keeps in the
// session only the objects of the chunk last returned, plus those you keep or change
// (docs/session.md, "Streaming"). The stream must not outlive its session.
template <class Row>
class AsyncStream {
 public:
  AsyncStream(AsyncSession& session, detail::AsyncCursor cursor, Result first)
      : session_(&session), cursor_(std::move(cursor)), first_(std::move(first)) {}
  AsyncStream(AsyncStream&& other) noexcept
      : session_(std::exchange(other.session_, nullptr)),
        cursor_(std::move(other.cursor_)),
        first_(std::move(other.first_)),
        fresh_(std::move(other.fresh_)),
        rows_read_(other.rows_read_),
        started_(other.started_) {
    other.cursor_.open = false;
  }
  AsyncStream& operator=(AsyncStream&&) = delete;
  ~AsyncStream() {
    if (!session_) return;
    release_fresh();
    session_->stream_abandon(cursor_);
  }

  // The next chunk, or std::nullopt once every row was read. Throws the FETCH's error (the
  // stream is then over).
  asio::awaitable<std::optional<std::vector<Row>>> next(std::optional<Timeout> timeout = {}) {
    release_fresh();
    Result result;
    if (!started_) {
      started_ = true;
      result = std::move(first_);
    } else if (cursor_.open) {
      result = co_await session_->stream_fetch(
          cursor_, session_->deadline_for(detail::timeout_value(timeout)));
    }
    if (result.rows() == 0) co_return std::nullopt;
    std::vector<Row> rows;
    if constexpr (tracked) {
      using T = typename Row::element_type;
      auto& work = detail::work_in<T>(session_->works_);
      detail::RowReader<T> reader(result);
      int n = result.rows();
      rows.reserve(static_cast<std::size_t>(n));
      for (int r = 0; r < n; ++r) {
        bool fresh = false;
        rows.push_back(work.load_row(reader, r, &fresh));
        if (fresh) fresh_.push_back(rows.back());
      }
    } else {
      rows = result.template as<Row>();
    }
    rows_read_ += rows.size();
    co_return rows;
  }
  // Ends the stream now: CLOSE (or COMMIT of the transaction the stream began).
  asio::awaitable<void> close(std::optional<Timeout> timeout = {}) {
    release_fresh();
    first_ = Result();
    started_ = true;
    co_await session_->stream_close(cursor_,
                                    session_->deadline_for(detail::timeout_value(timeout)));
  }
  // Rows returned so far (all chunks).
  std::size_t rows_read() const noexcept { return rows_read_; }

 private:
  static constexpr bool tracked = requires { typename Row::element_type; };

  // Tracked: the objects the last chunk brought into the identity map leave it again unless
  // kept (the chunk's vector counts while you hold it) or changed.
  void release_fresh() noexcept {
    if constexpr (tracked) {
      if (fresh_.empty()) return;
      using T = typename Row::element_type;
      if (auto* work = detail::find_work_in<T>(session_->works_))
        for (const auto& object : fresh_) work->release_unused(object, 1);
      fresh_.clear();
    }
  }

  AsyncSession* session_;
  detail::AsyncCursor cursor_;
  Result first_;  // the first chunk, fetched with the DECLARE
  std::vector<Row> fresh_;
  std::size_t rows_read_ = 0;
  bool started_ = false;
};

}  // namespace pgorm
