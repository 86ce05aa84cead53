// expect: ON CONFLICT ON CONSTRAINT takes no WHERE
#include <pgorm/pgorm.hpp>

struct Counter : pgorm::Model<Counter> {
  std::string name;
  std::int64_t hits = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Counter::name>(pgorm::unique), pgorm::column<&Counter::hits>());
};
struct Other : pgorm::Model<Other> {
  std::int64_t hits = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Other::hits>());
};
using pgorm::col;
using pgorm::excluded;
int main() {
  Counter c;
  return pgorm::insert<Counter>()
      .value(c)
      .on_conflict_on_constraint("uq_counters_name")
      .where(col<&Counter::hits> > 0)
      .do_nothing()
      .statement()
      .sql.empty();
}
