// expect: an UPDATE's condition may use the updated model's columns only
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
  // Author is not named with from<Author>().
  auto q = pgorm::update<Post>()
               .set(pgorm::col<&Post::title>, "x")
               .where(pgorm::col<&Post::author_id> == pgorm::col<&Author::id>);
  return q.statement().sql.empty();
}
