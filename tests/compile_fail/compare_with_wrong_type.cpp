// expect: this value's C\+\+ type does not match the column's type
#include <pgorm/pgorm.hpp>

struct Book : pgorm::Model<Book> {
  std::string title;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Book::title>());
};
int main() {
  auto q = pgorm::select<Book>().where(pgorm::col<&Book::title> == 42);
  return q.statement().sql.empty();
}
