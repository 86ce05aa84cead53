// expect: many-to-many relationships load with selectin and filter with has\(\)
#include <pgorm/pgorm.hpp>

struct Tag;
struct PostTag;
struct Post : pgorm::Model<Post> {
  std::string title;
  pgorm::ManyToMany<Tag, PostTag> tags;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Post::title>());
  static constexpr auto relationships = pgorm::relationships(pgorm::relation<&Post::tags>());
};
struct Tag : pgorm::Model<Tag> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Tag::name>());
};
struct PostTag : pgorm::Model<PostTag, pgorm::CustomKey> {
  std::int32_t post_id = 0;
  std::int32_t tag_id = 0;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&PostTag::post_id>(pgorm::foreign_key<&Post::id>()),
                     pgorm::column<&PostTag::tag_id>(pgorm::foreign_key<&Tag::id>()));
  static constexpr auto table_args =
      pgorm::table_args(pgorm::primary_key_on<&PostTag::post_id, &PostTag::tag_id>());
};
int main() {
  auto q = pgorm::select<Post>().options(pgorm::joined(&Post::tags));
  return q.statement().sql.empty();
}
