// expect: the row source has no column of this name
#include <pgorm/pgorm.hpp>

struct Post : pgorm::Model<Post> {
  int author_id = 0;
  std::string title;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::author_id>(), pgorm::column<&Post::title>());
};
int main() {
  auto counts = pgorm::derived<"counts", "author_id", "n">(
      pgorm::select(pgorm::col<&Post::author_id>, pgorm::count())
          .group_by(pgorm::col<&Post::author_id>));
  using Counts = decltype(counts);
  auto q = pgorm::select_from(counts).where(Counts::col<"total"> > std::int64_t{1});
  return q.statement().sql.empty();
}
