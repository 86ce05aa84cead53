// expect: the row source refers to a model .* that is not in the query before it
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
  auto latest = pgorm::lateral<"latest", "title">(
      pgorm::select(pgorm::col<&Post::title>)
          .correlate<Author>()
          .where(pgorm::col<&Post::author_id> == pgorm::col<&Author::id>));
  return pgorm::select<Tag>().join(latest).statement().sql.empty();
}
