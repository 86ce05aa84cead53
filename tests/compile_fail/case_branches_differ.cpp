// expect: every branch \(and else_\) must have the same C\+\+ type
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
  auto q = pgorm::select(pgorm::case_when(pgorm::col<&Item::quantity> > 0, pgorm::col<&Item::name>)
                             .else_(pgorm::col<&Item::quantity>));
  return q.statement().sql.empty();
}
