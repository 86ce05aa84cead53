// expect: the default's type does not match the member's type
#include <pgorm/pgorm.hpp>

struct Item : pgorm::Model<Item> {
  int quantity = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Item::quantity>(pgorm::default_value("none")));
};
int main() { return 0; }
