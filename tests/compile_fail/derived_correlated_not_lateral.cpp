// expect: make it pgorm::lateral<Name, columns...>
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
  auto latest = pgorm::derived<"latest", "title">(
      pgorm::select(pgorm::col<&Post::title>)
          .correlate<Author>()
          .where(pgorm::col<&Post::author_id> == pgorm::col<&Author::id>));
  return pgorm::select<Author>().join(latest).statement().sql.empty();
}
