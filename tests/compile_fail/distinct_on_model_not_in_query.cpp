// expect: distinct_on\(\) uses a model that is not in the query's FROM or JOINs
#include <pgorm/pgorm.hpp>

struct Author : pgorm::Model<Author> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Author::name>());
};
struct Post : pgorm::Model<Post> {
  int author_id = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::author_id>(pgorm::foreign_key<&Author::id>()));
};
int main() {
  auto q = pgorm::select<Post>().distinct_on(pgorm::col<&Author::name>);
  return q.statement().sql.empty();
}
