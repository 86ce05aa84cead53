// expect: UPDATE without where\(\) would change every row
#include <pgorm/pgorm.hpp>

struct Flag : pgorm::Model<Flag> {
  bool on = false;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Flag::on>());
};
int main() {
  auto st = pgorm::update<Flag>().set(pgorm::col<&Flag::on>, true).statement();
  return st.sql.empty();
}
