// expect: pgorm::unnest\(\): takes std::vector values or array expressions
#include <pgorm/pgorm.hpp>

int main() {
  auto v = pgorm::unnest<"v", "id">(42);
  return pgorm::select_from(v).statement().sql.empty();
}
