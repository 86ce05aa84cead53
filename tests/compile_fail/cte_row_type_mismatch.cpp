// expect: pgorm::cte<Name>\(q\): q selects rows of the name's model
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
  using Recent = pgorm::cte_name<Post, "recent">;
  // The WITH query must return rows of Post's shape: this one returns authors.
  auto q = pgorm::select_from<Recent>().with(pgorm::cte<Recent>(pgorm::select<Author>()));
  return q.statement().sql.empty();
}
