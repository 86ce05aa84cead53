// expect: name every column of q's select list, in order
#include <pgorm/pgorm.hpp>

struct Post : pgorm::Model<Post> {
  int author_id = 0;
  std::string title;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::author_id>(), pgorm::column<&Post::title>());
};
int main() {
  auto counts = pgorm::derived<"counts", "author_id">(
      pgorm::select(pgorm::col<&Post::author_id>, pgorm::count())
          .group_by(pgorm::col<&Post::author_id>));
  return pgorm::select_from(counts).statement().sql.empty();
}
