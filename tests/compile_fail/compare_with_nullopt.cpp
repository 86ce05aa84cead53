// expect: compare with NULL using .is_null\(\)
#include <pgorm/pgorm.hpp>

struct Note : pgorm::Model<Note> {
  std::optional<std::string> body;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Note::body>());
};
int main() {
  auto q = pgorm::select<Note>().where(pgorm::col<&Note::body> == std::nullopt);
  return q.statement().sql.empty();
}
