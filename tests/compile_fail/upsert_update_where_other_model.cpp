// expect: the condition may use the inserted model.s columns and pgorm::excluded<> of them only
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
      .on_conflict<&Counter::name>()
      .do_update<&Counter::hits>()
      .where(col<&Other::hits> > 0)
      .statement()
      .sql.empty();
}
