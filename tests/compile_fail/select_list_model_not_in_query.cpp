// expect: the select list uses a column of a model that is not in the query's FROM or JOINs
#include <pgorm/pgorm.hpp>

struct Author : pgorm::Model<Author> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Author::name>());
};
struct Post : pgorm::Model<Post> {
  int author_id = 0;
  std::string title;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::author_id>(pgorm::foreign_key<&Author::id>()),
                     pgorm::column<&Post::title>());
};
int main() {
  // Author is never joined: the server would say "missing FROM-clause entry".
  auto q = pgorm::select(pgorm::col<&Post::title>, pgorm::col<&Author::name>);
  return q.statement().sql.empty();
}
