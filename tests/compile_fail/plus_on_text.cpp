// expect: apply to numeric expressions; join text with pgorm::concat
#include <pgorm/pgorm.hpp>

struct Item : pgorm::Model<Item> {
  std::string name;
  int quantity = 0;
  double price = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Item::name>(), pgorm::column<&Item::quantity>(),
                     pgorm::column<&Item::price>());
};
int main() {
  auto q = pgorm::select(pgorm::col<&Item::name> + "!");
  return q.statement().sql.empty();
}
