// detail::FlushPlan: the one planner of a flush, for Session and AsyncSession.
#include <algorithm>

#include <fmt/format.h>

#include "pgorm/session/session.hpp"

namespace pgorm::detail {

namespace {
// Relationship cascades converge (each round adds or removes objects, or loads a collection once);
// a bound turns a bug into an error instead of a flush that never ends.
constexpr int kMaxCascadeRounds = 1000;
}  // namespace

std::vector<PlannedRead> FlushPlan::cascade() {
  for (;;) {
    if (++rounds_ > kMaxCascadeRounds) {
      ErrorInfo info;
      info.message = fmt::format(
          "flush: relationship cascades did not settle after {} rounds; nothing was written",
          kMaxCascadeRounds);
      throw InterfaceError(std::move(info));
    }
    bool changed = false;
    // Cascades may add the work of another model: index, do not iterate.
    for (std::size_t i = 0; i < state_.works.size(); ++i)
      changed |= state_.works[i].second->cascade(state_);
    if (!state_.reads.empty()) return std::exchange(state_.reads, {});
    if (!changed) return {};
  }
}

std::vector<PlannedWrite> FlushPlan::next() {
  std::vector<PlannedWrite> out;
  if (phase_ == Phase::done) return out;
  if (ordered_.empty()) ordered_ = flush_order(state_.works);
  // Keys learned from the last wave reach the objects that refer to them.
  for (auto* w : ordered_) w->sync_keys();
  bool pending = std::any_of(ordered_.begin(), ordered_.end(),
                             [](const ModelWorkBase* w) { return w->has_pending(); });
  if (pending) {
    std::unordered_set<const void*> waiting;
    bool later_waits = false;
    if (std::any_of(ordered_.begin(), ordered_.end(),
                    [](const ModelWorkBase* w) { return w->has_relations(); })) {
      std::unordered_set<const void*> all_pending;
      for (auto* w : ordered_) w->collect_pending(all_pending);
      for (auto* w : ordered_) w->mark_waiting(all_pending, waiting, later_waits);
    }
    for (auto* w : ordered_) w->plan_inserts(out, waiting);
    if (out.empty()) {
      // Every pending object waits for another: a cycle of new objects. Insert them all and let
      // the server judge the foreign keys (deferrable constraints make this work).
      waiting.clear();
      for (auto* w : ordered_) w->plan_inserts(out, waiting);
    }
    bool more = std::any_of(ordered_.begin(), ordered_.end(),
                            [](const ModelWorkBase* w) { return w->has_pending(); });
    if (more || later_waits) return out;
  }
  // After the last wave, in the same batch when nothing needs its keys: updates parents first,
  // association rows, then deletes children first.
  for (auto* w : ordered_) w->plan_updates(out);
  for (auto* w : ordered_) w->plan_associations(out);
  for (auto it = ordered_.rbegin(); it != ordered_.rend(); ++it) (*it)->plan_deletes(out);
  phase_ = Phase::done;
  return out;
}

}  // namespace pgorm::detail
