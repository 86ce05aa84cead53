// expect: set operations over selects from a row source are not supported
#include <pgorm/pgorm.hpp>

int main() {
  auto v = pgorm::unnest<"v", "id">(std::vector<std::int64_t>{1, 2});
  auto w = pgorm::unnest<"w", "id">(std::vector<std::int64_t>{2, 3});
  return pgorm::union_(pgorm::select_from(v), pgorm::select_from(w)).statement().sql.empty();
}
