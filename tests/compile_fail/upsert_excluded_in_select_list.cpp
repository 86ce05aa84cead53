// expect: the select list uses a column of a model that is not in the query's FROM or JOINs
#include <pgorm/pgorm.hpp>

struct Counter : pgorm::Model<Counter> {
  std::string name;
  std::int64_t hits = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Counter::name>(pgorm::unique), pgorm::column<&Counter::hits>());
};
int main() {
  // EXCLUDED exists only in ON CONFLICT DO UPDATE.
  auto q = pgorm::select(pgorm::col<&Counter::name>, pgorm::excluded<&Counter::hits>);
  return q.statement().sql.empty();
}
