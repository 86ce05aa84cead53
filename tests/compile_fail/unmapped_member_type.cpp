// expect: this member's C\+\+ type has no PostgreSQL mapping
#include <pgorm/pgorm.hpp>

struct Point { double x, y; };
struct Place : pgorm::Model<Place> {
  Point where;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Place::where>());
};
int main() { return 0; }
