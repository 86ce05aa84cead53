// expect: equals_any\(value, array\): the value's C\+\+ type does not match the array's elements
#include <pgorm/pgorm.hpp>

struct Post : pgorm::Model<Post> {
  std::vector<std::string> tags;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Post::tags>());
};
int main() {
  auto q = pgorm::select<Post>().where(pgorm::equals_any(5, pgorm::col<&Post::tags>));
  return q.statement().sql.empty();
}
