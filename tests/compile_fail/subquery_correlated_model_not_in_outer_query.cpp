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
  // The subquery correlates with Author, but the outer query selects tags only.
  auto authors_posts = pgorm::select<Post>().correlate<Author>().where(
      pgorm::col<&Post::author_id> == pgorm::col<&Author::id>);
  auto q = pgorm::select<Tag>().where(pgorm::exists(authors_posts));
  return q.statement().sql.empty();
}
