// expect: the condition uses a column of a model that is not in the query's FROM or JOINs
#include <pgorm/pgorm.hpp>

struct Author : pgorm::Model<Author> {
  int rating = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Author::rating>());
};
struct Post : pgorm::Model<Post> {
  int author_id = 0;
  int likes = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::author_id>(pgorm::foreign_key<&Author::id>()),
                     pgorm::column<&Post::likes>());
};
int main() {
  auto q = pgorm::select<Post>().where(pgorm::col<&Post::likes> * pgorm::col<&Author::rating> > 10);
  return q.statement().sql.empty();
}
