// expect: the condition uses a column of a model that is not in the query's FROM or JOINs
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
struct Tag : pgorm::Model<Tag> {
  std::string label;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Tag::label>());
};
int main() {
  // Author is the outer query's model, but the subquery does not say so with correlate<Author>().
  auto q = pgorm::select<Author>().where(pgorm::exists(
      pgorm::select<Post>().where(pgorm::col<&Post::author_id> == pgorm::col<&Author::id>)));
  return q.statement().sql.empty();
}
