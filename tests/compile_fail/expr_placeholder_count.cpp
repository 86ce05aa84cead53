// expect: pgorm_expr_placeholder_count_differs_from_argument_count
#include <pgorm/pgorm.hpp>

struct Doc : pgorm::Model<Doc> {
  std::string body;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Doc::body>());
};
int main() {
  // Two placeholders, one argument.
  auto q = pgorm::select<Doc>().where(
      pgorm::expr<bool>("{} @@ plainto_tsquery({})", pgorm::col<&Doc::body>));
  return q.statement().sql.empty();
}
