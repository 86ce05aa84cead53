// Built by scripts/run-tests.sh with only `pkg-config --cflags --libs pgorm`: proves the .pc file.
#include <pgorm/pgorm.hpp>

#include <cstdio>

struct Note : pgorm::Model<Note> {
  std::string body;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Note::body>());
};

int main() {
  auto sql = pgorm::Metadata::of<Note>().create_sql();
  bool ok = sql.find("CREATE TABLE IF NOT EXISTS \"notes\"") != std::string::npos;
  std::puts(ok ? "pkg-config consumer ok" : "pkg-config consumer: unexpected DDL");
  return ok ? 0 : 1;
}
