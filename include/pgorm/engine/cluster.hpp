// pgorm::Cluster: a primary and its streaming read replicas, for sessions that send plain reads
// to a replica and everything else to the primary, without ever reading older data than their
// own commits (read-your-writes). See docs/deployment.md.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/engine/engine.hpp"

namespace pgorm {

// A position in the primary's write-ahead log (an LSN): the end of a commit. A read that must see
// that commit runs on a replica that has replayed the log up to it, or on the primary. Carried
// across requests (a web app's next request) as text in PostgreSQL's pg_lsn form, "16/B374D848".
class ReadPosition {
 public:
  ReadPosition() = default;
  explicit ReadPosition(std::uint64_t lsn) noexcept : lsn_(lsn) {}
  // "X/Y" with hexadecimal X and Y, as to_string() writes it; InterfaceError for anything else.
  static ReadPosition parse(std::string_view text);
  std::string to_string() const;
  std::uint64_t lsn() const noexcept { return lsn_; }
  // No position: any replica will do.
  bool empty() const noexcept { return lsn_ == 0; }
  friend auto operator<=>(const ReadPosition&, const ReadPosition&) = default;

 private:
  std::uint64_t lsn_ = 0;
};

struct ClusterOptions {
  // A replica more than this behind the primary (time since its last replayed transaction while
  // it has received log it has not replayed yet) gets no reads.
  std::chrono::milliseconds max_lag{5000};
  // How long a read that must see a commit waits for a replica to replay it; after that the read
  // goes to the primary.
  std::chrono::milliseconds read_your_writes_wait{250};
  // A replica's lag and replay position are measured again (one short query) when a connection
  // to it is checked out and the last measure is older than this.
  std::chrono::milliseconds lag_check_interval{1000};
  // A replica that refused a connection, broke one, or is no longer a standby (it was promoted)
  // gets no reads for this long.
  std::chrono::milliseconds retry_interval{5000};
};

// Counters since the cluster was made (all copies share them).
struct ClusterStats {
  std::uint64_t replica_reads = 0;  // read statements that ran on a replica
  // Read statements of a session with replicas that ran on the primary: no replica was up, within
  // max_lag, or had replayed the session's commits within read_your_writes_wait.
  std::uint64_t primary_reads = 0;
  std::uint64_t waits = 0;             // read-your-writes waits a replica ended in time
  std::uint64_t wait_timeouts = 0;     // read-your-writes waits that ran out
  std::uint64_t lag_skips = 0;         // replicas passed over for lag
  std::uint64_t replica_failures = 0;  // replicas set aside for retry_interval
};

// Cheap to copy: copies share the engines, the round-robin position and the measures.
class Cluster {
 public:
  // No cluster: has_replicas() is false and primary() throws InterfaceError.
  Cluster() noexcept = default;
  // Each engine has its own pool; a replica engine may point at a pooler in front of one standby.
  Cluster(Engine primary, std::vector<Engine> replicas, ClusterOptions options = {});

  const Engine& primary() const;
  const std::vector<Engine>& replicas() const noexcept;
  bool has_replicas() const noexcept { return state_ && !replicas().empty(); }
  const ClusterOptions& options() const noexcept;
  ClusterStats stats() const noexcept;

  // ---- used by Session (not part of the user API) ----
  // A connection to a replica, taken in round-robin order among those that are up, within
  // max_lag, and have replayed `after` (waiting for that up to read_your_writes_wait); none when
  // the read must go to the primary.
  std::optional<PooledConnection> checkout_for_read(ReadPosition after) const;
  void count_read(bool on_replica) const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace pgorm
