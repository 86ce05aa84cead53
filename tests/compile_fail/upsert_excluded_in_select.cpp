// expect: the condition uses a column of a model that is not in the query.s FROM
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
  return pgorm::select<Counter>().where(excluded<&Counter::hits> > 0).statement().sql.empty();
}
