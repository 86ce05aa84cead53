// A row committed with the flush that cannot be read back into its object, because the
// application's own type refuses the value with an exception of its own (not a pgorm error):
// both sessions say that the transaction was committed, and the row is there.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "async/async_support.hpp"

namespace writeback {
// Text the application parses itself; "poison" is a value it cannot read.
struct Code {
  std::string text;
  friend bool operator==(const Code&, const Code&) = default;
};
}  // namespace writeback

template <>
struct pgorm::type_traits<writeback::Code> {
  static std::string sql_type() { return "text"; }
  static void encode(const writeback::Code& v, std::string& out) { out += v.text; }
  static void decode(std::string_view text, writeback::Code& out) {
    if (text == "poison") throw std::invalid_argument("the application cannot read this code");
    out.text = std::string(text);
  }
};

namespace writeback {
struct Label : pgorm::Model<Label> {
  Code code;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Label::code>());
};
}  // namespace writeback

using namespace pgorm;
using writeback::Label;

namespace {

// A BEFORE INSERT trigger stores "poison" whatever the client sent.
void poison_inserts(test::TestSchema& db) {
  Metadata::of<Label>().create_all(db.conn());
  db.conn().exec(
      "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN NEW.code := 'poison'; RETURN NEW; END $$");
  db.conn().exec(fmt::format(
      "CREATE TRIGGER poison BEFORE INSERT ON {} FOR EACH ROW EXECUTE FUNCTION poison()",
      sql::quote_identifier(table_info<Label>().name)));
}

std::int64_t poisoned(test::TestSchema& db) {
  return db.scalar<std::int64_t>(fmt::format("SELECT count(*) FROM {} WHERE code = 'poison'",
                                             sql::quote_identifier(table_info<Label>().name)));
}

// A label the client sends as "fine" and the server stores as "poison", pending in `s`.
void add_poisoned_label(test::TestSchema& db, detail::Tracker& s) {
  poison_inserts(db);
  Label label;
  label.code.text = "fine";
  s.add(std::move(label));
}

bool says_committed(const std::string& what) {
  return what.find("the transaction was committed") != std::string::npos &&
         what.find("the application cannot read this code") != std::string::npos;
}

}  // namespace

TEST_CASE("a committed row that the application's type cannot read back: commit() says committed",
          "[session][failure]") {
  test::SessionFixture fx;
  auto s = fx.session();
  add_poisoned_label(fx.db, s);
  std::string what;
  try {
    s.commit();
  } catch (const InterfaceError& e) {
    what = e.what();
  }
  CHECK(says_committed(what));
  CHECK_FALSE(s.in_transaction());
  CHECK(poisoned(fx.db) == 1);
}

TEST_CASE(
    "async: a committed row that the application's type cannot read back: commit() says "
    "committed",
    "[async][session][failure]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  add_poisoned_label(fx.db, s);
  std::string what;
  bool other = false;
  fx.run([&]() -> asio::awaitable<void> {
    try {
      co_await s.commit();
    } catch (const InterfaceError& e) {
      what = e.what();
    } catch (...) {
      other = true;  // not what the caller can act on
    }
  }());
  CHECK_FALSE(other);
  CHECK(says_committed(what));
  CHECK_FALSE(s.in_transaction());
  CHECK(poisoned(fx.db) == 1);
}
