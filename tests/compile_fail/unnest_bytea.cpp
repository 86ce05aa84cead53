// expect: pgorm::unnest\(\): takes std::vector values or array expressions
#include <pgorm/pgorm.hpp>

int main() {
  // bytea is a std::vector<std::byte>, not an array: unnest(bytea) does not exist.
  auto v = pgorm::unnest<"v", "b">(std::vector<std::byte>{std::byte{1}});
  return pgorm::select_from(v).statement().sql.empty();
}
