// expect: an alias, WITH query or row source cannot be named
#include <pgorm/pgorm.hpp>

struct Post : pgorm::Model<Post> {
  std::string title;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Post::title>());
};
int main() {
  auto v = pgorm::unnest<"v", "id">(std::vector<std::int32_t>{1, 2});
  using V = decltype(v);
  auto q =
      pgorm::select<Post>().join(v, pgorm::col<&Post::id> == V::col<"id">).for_update().of<V>();
  return q.statement().sql.empty();
}
