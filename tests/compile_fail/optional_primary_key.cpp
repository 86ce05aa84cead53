// expect: a primary key column cannot be std::optional
#include <pgorm/pgorm.hpp>

struct Tag : pgorm::Model<Tag, pgorm::CustomKey> {
  std::optional<std::string> name;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Tag::name>(pgorm::primary_key));
};
int main() { return 0; }
