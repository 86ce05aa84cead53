// expect: the JSONB operators apply to pgorm::Json \(jsonb\) expressions only
#include <pgorm/pgorm.hpp>

struct Item : pgorm::Model<Item> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Item::name>());
};
int main() {
  auto q = pgorm::select(pgorm::jsonb_get_text(pgorm::col<&Item::name>, "kind"));
  return q.statement().sql.empty();
}
