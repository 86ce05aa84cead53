// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <pgorm/pgorm.hpp>

// 0.1 as a double is not 0.1f: a real column needs a float (0.1f) or a cast.
struct Reading : pgorm::Model<Reading> {
  float celsius = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Reading::celsius>());
};
int main() {
  auto q = pgorm::select<Reading>().where(pgorm::col<&Reading::celsius> > 0.1);
  return q.statement().sql.empty();
}
