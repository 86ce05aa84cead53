// expect: pgorm::varchar\(N\) applies to std::string members only
#include <pgorm/pgorm.hpp>

struct Counter : pgorm::Model<Counter> {
  int value = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Counter::value>(pgorm::varchar(10)));
};
int main() { return 0; }
