// pgorm::Stream: the rows of Session::stream() as an input range, read in chunks through a
// server-side cursor, so that a result of any size is iterated in constant memory.
// Included by session.hpp.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pgorm/session/session.hpp"

namespace pgorm {
namespace detail {

// One server-side cursor of a Session: DECLARE when made, FETCH per chunk, CLOSE (or COMMIT, when
// the stream began the transaction itself) at the end, on error, or when destroyed.
class StreamCursor {
 public:
  StreamCursor(Session& session, const query::Statement& statement, std::size_t chunk_rows);
  StreamCursor(StreamCursor&& other) noexcept;
  StreamCursor& operator=(StreamCursor&&) = delete;
  ~StreamCursor();

  // The next chunk (fewer than chunk_rows rows: the last one, and the cursor is closed). Throws
  // the statement's error (the cursor is then closed); InterfaceError when the session ended the
  // stream (rollback(), close()).
  Result fetch();
  // Whether FETCH may still return rows.
  bool open() const noexcept { return session_ != nullptr; }
  Session& session() const noexcept { return *owner_; }
  std::size_t chunk_rows() const noexcept { return chunk_rows_; }
  // Ends the stream now (CLOSE, or COMMIT of the transaction the stream began); never throws.
  void close() noexcept;

 private:
  // Whether the session still has this stream open.
  bool current() const noexcept;
  // The stream is over: the session is free again (and, when the stream began the transaction,
  // it is ended).
  void finish();

  Session* session_;  // null once closed
  Session* owner_;    // the session, for the objects of the chunks
  std::uint64_t number_ = 0;
  std::size_t chunk_rows_;
  std::string name_;
  bool owns_transaction_ = false;
};

[[noreturn]] void throw_stream_loads();

}  // namespace detail

// The range a stream() returns. Iterating it fetches the next chunk when the current one is used
// up; a reference to a row stays valid until the iteration moves past its chunk. Tracked streams
// (Row = std::shared_ptr<T>) keep in the session only the objects of the current chunk, plus
// those you keep (hold a copy of the shared_ptr) or change: docs/session.md, "Streaming".
template <class Row>
class Stream {
 public:
  explicit Stream(detail::StreamCursor cursor) : cursor_(std::move(cursor)) {}
  Stream(Stream&&) noexcept = default;
  Stream& operator=(Stream&&) = delete;
  ~Stream() { release_chunk(); }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::input_iterator_tag;
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    using reference = Row&;
    iterator() = default;
    explicit iterator(Stream* stream) : stream_(stream) {}
    Row& operator*() const { return stream_->chunk_[stream_->position_]; }
    Row* operator->() const { return &**this; }
    iterator& operator++() {
      stream_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.done(); }

   private:
    bool done() const noexcept { return stream_ == nullptr || stream_->at_end(); }
    Stream* stream_ = nullptr;
  };

  // The first chunk is fetched here (the stream is read once: begin() again goes on from where
  // the iteration stopped).
  iterator begin() {
    if (!started_) {
      started_ = true;
      next_chunk();
    }
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  // Rows read so far (all chunks).
  std::size_t rows_read() const noexcept { return rows_read_; }
  // Ends the stream now; the rows not read yet are not fetched.
  void close() noexcept {
    release_chunk();
    chunk_.clear();
    position_ = 0;
    cursor_.close();
  }

 private:
  static constexpr bool tracked = requires { typename Row::element_type; };

  bool at_end() const noexcept { return position_ >= chunk_.size(); }
  void advance() {
    if (++position_ < chunk_.size()) return;
    next_chunk();
  }
  void next_chunk() {
    release_chunk();
    chunk_.clear();
    position_ = 0;
    if (!cursor_.open()) return;
    Result result = cursor_.fetch();
    if constexpr (tracked) {
      using T = typename Row::element_type;
      auto& work = detail::work_in<T>(cursor_.session().works());
      detail::RowReader<T> reader(result);
      int n = result.rows();
      chunk_.reserve(static_cast<std::size_t>(n));
      fresh_.assign(static_cast<std::size_t>(n), false);
      for (int r = 0; r < n; ++r) {
        bool fresh = false;
        chunk_.push_back(work.load_row(reader, r, &fresh));
        fresh_[static_cast<std::size_t>(r)] = fresh;
      }
    } else {
      chunk_ = result.template as<Row>();
    }
    rows_read_ += chunk_.size();
  }
  // Tracked: objects this chunk brought into the identity map leave it again unless kept or
  // changed.
  void release_chunk() noexcept {
    if constexpr (tracked) {
      if (chunk_.empty()) return;
      using T = typename Row::element_type;
      auto* work = detail::find_work_in<T>(cursor_.session().works());
      if (!work) return;
      for (std::size_t i = 0; i < chunk_.size() && i < fresh_.size(); ++i)
        if (fresh_[i]) work->release_unused(chunk_[i], 1);
      fresh_.clear();
    }
  }

  detail::StreamCursor cursor_;
  std::vector<Row> chunk_;
  std::vector<bool> fresh_;  // tracked: which objects of the chunk entered the identity map now
  std::size_t position_ = 0;
  std::size_t rows_read_ = 0;
  bool started_ = false;
};

template <class Row, class From, class Models>
detail::StreamCursor Session::open_stream(const query::Select<Row, From, Models>& select,
                                          StreamOptions options) {
  if (!select.eager_readers().empty() || !select.loaders().empty()) detail::throw_stream_loads();
  prepare_read();
  return detail::StreamCursor(*this, select.statement(), options.chunk_rows);
}

}  // namespace pgorm
