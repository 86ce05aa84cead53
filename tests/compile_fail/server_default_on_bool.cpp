// expect: pgorm::server_default on a number, bool, enum or string member
#include <pgorm/pgorm.hpp>

// false is an ordinary value: a server default would replace it silently at INSERT.
struct Flag : pgorm::Model<Flag> {
  bool active = false;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Flag::active>(pgorm::server_default("true")));
};
int main() { return 0; }
