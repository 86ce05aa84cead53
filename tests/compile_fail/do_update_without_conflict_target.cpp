// expect: do_update<...>\(\) needs the conflict target first
#include <pgorm/pgorm.hpp>

struct Counter : pgorm::Model<Counter> {
  std::string name;
  std::int64_t hits = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Counter::name>(pgorm::unique), pgorm::column<&Counter::hits>());
};
int main() {
  Counter c;
  return pgorm::insert<Counter>().value(c).do_update<&Counter::hits>().statement().sql.empty();
}
