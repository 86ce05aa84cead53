// Values bound against typed columns: conversions that keep every value work against the server,
// an int (a plain literal) against a narrower column is checked when the query is built, and the
// narrowing ones do not compile (tests/compile_fail/compare_*_narrowing.cpp).
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "support/db.hpp"
#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

// Three samples: (small, normal, big, single, real) = (1, 10, 5'000'000'000, 0.5, 0.25),
// (2, 20, 20, 2, 2.5) and (3, 30, -1, 16777216, 1e300).
struct Samples {
  test::TestSchema db;
  Engine engine{db.conninfo()};
  std::vector<std::int64_t> ids;
  Samples() {
    Metadata::of<Sample>().create_all(db.conn());
    add(1, 10, 5'000'000'000, 0.5f, 0.25);
    add(2, 20, 20, 2.0f, 2.5);
    add(3, 30, -1, 16777216.0f, 1e300);
  }
  void add(std::int16_t small, std::int32_t normal, std::int64_t big, float single, double real) {
    Sample s;
    s.amount = Decimal("0");
    s.small = small;
    s.normal = normal;
    s.big = big;
    s.single = single;
    s.real = real;
    ids.push_back(test::insert_returning(db.conn(), s).id);
  }
  // The `small` values of the rows a query returns, in id order.
  template <class Query>
  std::vector<std::int16_t> smalls(const Query& query) {
    Session s(engine);
    std::vector<std::int16_t> out;
    for (const auto& row : s.execute(query.order_by(col<&Sample::id>))) out.push_back(row->small);
    return out;
  }
};

using Smalls = std::vector<std::int16_t>;

}  // namespace

TEST_CASE("int literals compare with smallint, integer and bigint columns", "[query]") {
  Samples fx;
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small> == 2)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small> >= 2)) == Smalls{2, 3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::normal> != 20)) == Smalls{1, 3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::big> < 0)) == Smalls{3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small>.between(2, 3))) == Smalls{2, 3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small>.in({1, 3}))) == Smalls{1, 3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small>.not_in({1, 3}))) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().after(col<&Sample::small>, 1)) == Smalls{2, 3});
}

TEST_CASE("values of narrower types compare with wider columns without change", "[query]") {
  Samples fx;
  const std::int16_t two16 = 2;
  const std::int32_t twenty32 = 20;
  const std::int64_t five_billion = 5'000'000'000;
  const float half = 0.5f;
  const float two_and_a_half = 2.5f;
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::normal> == two16 * 10)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::small> == two16)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::big> == twenty32)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::big> == five_billion)) == Smalls{1});
  CHECK(fx.smalls(select<Sample>().where(
            col<&Sample::big>.in(std::vector<std::int32_t>{20, -1}))) == Smalls{2, 3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::id> == fx.ids[1])) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::id> ==
                                         static_cast<std::int32_t>(fx.ids[2]))) == Smalls{3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::single> == half)) == Smalls{1});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::real> == two_and_a_half)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::real> > 1e299)) == Smalls{3});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::real> < twenty32)) == Smalls{1, 2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::single> == two16)) == Smalls{2});
  CHECK(fx.smalls(select<Sample>().where(col<&Sample::single> == 16777216)) == Smalls{3});
}

TEST_CASE("an int that does not fit a smallint or real column is refused before it is sent",
          "[query]") {
  Samples fx;
  auto refused = [](auto build) {
    try {
      build();
    } catch (const DataError& e) {
      CHECK(e.table() == "samples");
      CHECK(e.sqlstate() == "22003");
      CHECK(e.detail().find("value: ") == 0);
      // what() never shows the value itself.
      CHECK(std::string(e.what()).find(e.detail().substr(7)) == std::string::npos);
      return e.column();
    }
    return std::string("not refused");
  };
  CHECK(refused([] { return col<&Sample::small> == 40000; }) == "small");
  CHECK(refused([] { return col<&Sample::small> > -32769; }) == "small");
  CHECK(refused([] { return col<&Sample::small>.between(0, 32768); }) == "small");
  CHECK(refused([] { return col<&Sample::small>.in({1, 70000}); }) == "small");
  CHECK(refused([] { return update<Sample>().set(col<&Sample::small>, 65536); }) == "small");
  CHECK(refused([] { return col<&Sample::single> == 16777217; }) == "single");
  CHECK(refused([] { return select<Sample>().after(col<&Sample::small>, 99999); }) == "small");

  // The edges of the range still fit.
  auto inside = col<&Sample::small> <= 32767 && col<&Sample::small> >= -32768;
  CHECK(fx.smalls(select<Sample>().where(inside)) == Smalls{1, 2, 3});
  // The rows are untouched.
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM samples WHERE small IN (1, 2, 3)") == 3);
}

TEST_CASE("bulk update binds int literals against narrower columns after checking them",
          "[query]") {
  Samples fx;
  Session s(fx.engine);
  auto changed = s.execute(update<Sample>()
                               .set(col<&Sample::small>, 300)
                               .set(col<&Sample::single>, 7)
                               .set(col<&Sample::big>, 6'000'000'000)
                               .where(col<&Sample::normal> == 20));
  s.commit();
  CHECK(changed == 1);
  CHECK(fx.db.scalar<std::int16_t>("SELECT small FROM samples WHERE id = $1", fx.ids[1]) == 300);
  CHECK(fx.db.scalar<float>("SELECT single FROM samples WHERE id = $1", fx.ids[1]) == 7.0f);
  CHECK(fx.db.scalar<std::int64_t>("SELECT big FROM samples WHERE id = $1", fx.ids[1]) ==
        6'000'000'000);
}
