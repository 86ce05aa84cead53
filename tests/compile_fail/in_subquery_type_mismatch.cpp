// expect: the subquery's column has another C\+\+ type than the left side
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
  auto q = pgorm::select<Author>().where(
      pgorm::col<&Author::id>.in(pgorm::select(pgorm::col<&Post::title>)));
  return q.statement().sql.empty();
}
