#include "pgorm/engine/cluster.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm {

ReadPosition ReadPosition::parse(std::string_view text) {
  auto bad = [&]() {
    ErrorInfo info;
    info.message = fmt::format(
        "\"{}\" is not a read position (expected the pg_lsn form \"X/Y\", hexadecimal)", text);
    throw InterfaceError(std::move(info));
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) bad();
  auto half = [&](std::string_view part) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 16);
    if (ec != std::errc() || end != part.data() + part.size()) bad();
    return static_cast<std::uint64_t>(v);
  };
  return ReadPosition((half(text.substr(0, slash)) << 32) | half(text.substr(slash + 1)));
}

std::string ReadPosition::to_string() const {
  return fmt::format("{:X}/{:X}", lsn_ >> 32, lsn_ & 0xFFFFFFFFu);
}

namespace {

using Clock = std::chrono::steady_clock;

// What a replica was last seen as.
struct ReplicaStatus {
  std::mutex mutex;
  Clock::time_point down_until{};
  Clock::time_point measured_at{};
  bool measured = false;
  std::chrono::milliseconds lag{0};
  ReadPosition replayed;
};

// One round trip on a standby: whether it still is one, how far it has replayed, and its lag
// (zero when it has replayed everything it received: an idle primary sends nothing, and time
// since the last replayed transaction is then no lag at all).
constexpr std::string_view kMeasure =
    "SELECT pg_is_in_recovery(), COALESCE(pg_last_wal_replay_lsn()::text, ''), "
    "CASE WHEN pg_last_wal_receive_lsn() IS NULL "
    "OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, "
    "0) END";
constexpr std::string_view kReplayed = "SELECT COALESCE(pg_last_wal_replay_lsn()::text, '')";

ReadPosition position_of(const Result& r, int column) {
  std::string_view text = r.get(0, column);
  return text.empty() ? ReadPosition() : ReadPosition::parse(text);
}

}  // namespace

struct Cluster::State {
  State(Engine p, std::vector<Engine> r, ClusterOptions o)
      : primary(std::move(p)), replicas(std::move(r)), options(o) {}
  Engine primary;
  std::vector<Engine> replicas;
  ClusterOptions options;
  std::vector<std::unique_ptr<ReplicaStatus>> status;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> replica_reads{0}, primary_reads{0}, waits{0}, wait_timeouts{0},
      lag_skips{0}, replica_failures{0};

  void set_aside(ReplicaStatus& s) {
    std::lock_guard lock(s.mutex);
    s.down_until = Clock::now() + options.retry_interval;
    s.measured = false;
    replica_failures.fetch_add(1, std::memory_order_relaxed);
  }
};

Cluster::Cluster(Engine primary, std::vector<Engine> replicas, ClusterOptions options)
    : state_(std::make_shared<State>(std::move(primary), std::move(replicas), options)) {
  for (std::size_t i = 0; i < state_->replicas.size(); ++i)
    state_->status.push_back(std::make_unique<ReplicaStatus>());
}

const Engine& Cluster::primary() const {
  if (!state_) {
    ErrorInfo info;
    info.message = "this Cluster is empty (default-constructed): it has no primary";
    throw InterfaceError(std::move(info));
  }
  return state_->primary;
}
const std::vector<Engine>& Cluster::replicas() const noexcept {
  static const std::vector<Engine> none;
  return state_ ? state_->replicas : none;
}
const ClusterOptions& Cluster::options() const noexcept {
  static const ClusterOptions defaults;
  return state_ ? state_->options : defaults;
}

ClusterStats Cluster::stats() const noexcept {
  ClusterStats out;
  if (!state_) return out;
  const State& s = *state_;
  out.replica_reads = s.replica_reads.load(std::memory_order_relaxed);
  out.primary_reads = s.primary_reads.load(std::memory_order_relaxed);
  out.waits = s.waits.load(std::memory_order_relaxed);
  out.wait_timeouts = s.wait_timeouts.load(std::memory_order_relaxed);
  out.lag_skips = s.lag_skips.load(std::memory_order_relaxed);
  out.replica_failures = s.replica_failures.load(std::memory_order_relaxed);
  return out;
}

void Cluster::count_read(bool on_replica) const noexcept {
  if (!state_) return;
  (on_replica ? state_->replica_reads : state_->primary_reads)
      .fetch_add(1, std::memory_order_relaxed);
}

std::optional<PooledConnection> Cluster::checkout_for_read(ReadPosition after) const {
  if (!state_) return std::nullopt;
  State& s = *state_;
  const std::size_t n = s.replicas.size();
  const std::size_t first = s.next.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (first + k) % n;
    ReplicaStatus& status = *s.status[i];
    bool measure = false;
    {
      std::lock_guard lock(status.mutex);
      auto now = Clock::now();
      if (now < status.down_until) continue;
      bool fresh = status.measured && now - status.measured_at < s.options.lag_check_interval;
      if (fresh && status.lag > s.options.max_lag) {
        s.lag_skips.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      measure = !fresh || status.replayed < after;
    }
    std::optional<PooledConnection> c;
    try {
      c.emplace(s.replicas[i].connect());
      if (measure) {
        Result r = (*c)->execute(kMeasure);
        bool standby = r.value<bool>(0, 0);
        std::lock_guard lock(status.mutex);
        status.measured = standby;
        status.measured_at = Clock::now();
        status.replayed = position_of(r, 1);
        status.lag = std::chrono::milliseconds(r.value<std::int64_t>(0, 2));
      }
    } catch (const Error&) {
      // Down, or broke while being measured: the read goes elsewhere, and the replica gets no
      // reads until retry_interval has passed.
      if (c) c->invalidate();
      s.set_aside(status);
      continue;
    }
    ReadPosition replayed;
    bool standby = true;
    {
      std::lock_guard lock(status.mutex);
      standby = status.measured;
      if (standby && status.lag > s.options.max_lag) {
        s.lag_skips.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      replayed = status.replayed;
    }
    if (!standby) {  // no longer in recovery (promoted): its data may have diverged
      c->invalidate();
      s.set_aside(status);
      continue;
    }
    if (replayed >= after) return c;
    // Read-your-writes: wait (bounded in time and in polls) for this replica to replay the
    // session's last commit. Its budget is spent on one replica; after it, the primary.
    auto deadline = Clock::now() + s.options.read_your_writes_wait;
    auto pause = std::chrono::microseconds(50);  // replay on a nearby standby takes well under 1 ms
    try {
      for (int poll = 0; poll < 10000 && replayed < after && Clock::now() < deadline; ++poll) {
        std::this_thread::sleep_for(pause);
        pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
        replayed = position_of((*c)->execute(kReplayed), 0);
      }
    } catch (const Error&) {
      c->invalidate();
      s.set_aside(status);
      continue;
    }
    {
      std::lock_guard lock(status.mutex);
      status.replayed = std::max(status.replayed, replayed);
    }
    if (replayed >= after) {
      s.waits.fetch_add(1, std::memory_order_relaxed);
      return c;
    }
    s.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pgorm
