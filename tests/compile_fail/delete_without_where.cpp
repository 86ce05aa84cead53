// expect: DELETE without where\(\) would remove every row
#include <pgorm/pgorm.hpp>

struct Flag : pgorm::Model<Flag> {
  bool on = false;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Flag::on>());
};
int main() { return pgorm::delete_<Flag>().statement().sql.empty(); }
