// expect: the column's C\+\+ type differs from the referenced column's
#include <pgorm/pgorm.hpp>

struct Owner : pgorm::Model<Owner, pgorm::UuidKey> {};
struct Pet : pgorm::Model<Pet> {
  int owner_id = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Pet::owner_id>(pgorm::foreign_key<&Owner::id>()));
};
int main() { return 0; }
