// expect: like\(\)/ilike\(\)/contains\(\)/startswith\(\)/endswith\(\) apply to text columns only
#include <pgorm/pgorm.hpp>

struct Counter : pgorm::Model<Counter> {
  int value = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Counter::value>());
};
int main() {
  auto q = pgorm::select<Counter>().where(pgorm::col<&Counter::value>.like("1%"));
  return q.statement().sql.empty();
}
