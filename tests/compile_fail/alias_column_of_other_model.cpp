// expect: an alias's col<&Model::member> takes a member of the aliased model
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
  using Boss = pgorm::aliased<Author, "boss">;
  auto q =
      pgorm::select<Post>().join<Boss>(pgorm::col<&Post::author_id> == Boss::col<&Post::author_id>);
  return q.statement().sql.empty();
}
