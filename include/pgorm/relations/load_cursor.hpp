// pgorm::detail::LoadCursor: relationship loading as a sequence of statements, so that Session and
// AsyncSession run the same loading code and differ only in how they send a statement.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "pgorm/query/fragment.hpp"

namespace pgorm {
class Result;
namespace detail {

class ModelWorkBase;
// A session's per-model state (identity map, pending work), one entry per model it has seen, and
// how many savepoints are open (a model's work created inside one journals its changes too).
struct WorkList : std::vector<std::pair<const void*, std::unique_ptr<ModelWorkBase>>> {
  int savepoint_depth = 0;
};

// One selectin path (selectin(&User::todos, &Todo::tags), Session::load): next() gives the
// statement of the next level, or none when the path is loaded; feed() takes that statement's
// result, tracks its rows in the session's identity map and fills the relationship. A level whose
// owners have no keys sends no statement (its relationships are set empty).
class LoadCursor {
 public:
  virtual ~LoadCursor() = default;
  virtual std::optional<query::Statement> next() = 0;
  virtual void feed(const Result& result, WorkList& works) = 0;
};

// One level of selectin loading of one relationship, whatever its models
// (ModelWork::selectin_step): the statement for the related rows (none when no owner has a key) and
// what takes its result (nullptr when there was no statement). attach() fills the owners'
// relationship and returns the related objects, for a next level, when they were asked for.
struct SelectinStep {
  std::optional<query::Statement> statement;
  std::function<std::vector<std::shared_ptr<void>>(const Result*, WorkList*)> attach;
};

}  // namespace detail
}  // namespace pgorm
