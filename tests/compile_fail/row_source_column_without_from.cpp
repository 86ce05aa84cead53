// expect: the select list uses a column of a model that is not in the query's FROM or JOINs
#include <pgorm/pgorm.hpp>

int main() {
  auto v = pgorm::unnest<"v", "id">(std::vector<std::int64_t>{1, 2});
  using V = decltype(v);
  // The source is never given to the select: .from(v) is missing.
  return pgorm::select(V::col<"id">).statement().sql.empty();
}
