#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "pgorm/session/identity_map.hpp"
#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

// Random inserts, erases, lookups and clears against std::unordered_map, with few keys so that
// probe runs collide, wrap around the index and shift back on erase.
template <class Key, class MakeKey>
void check_against_unordered_map(MakeKey make_key, int key_range, std::uint32_t seed) {
  detail::IdentityMap<Key, std::string> map;
  std::unordered_map<Key, std::string, detail::IdentityHash> expected;
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
  for (int step = 0; step < 20000; ++step) {
    const Key key = make_key(pick(key_range));
    const int action = pick(100);
    if (action < 45) {
      auto [it, inserted] = map.try_emplace(key);
      auto [eit, einserted] = expected.try_emplace(key);
      REQUIRE(inserted == einserted);
      if (inserted) {
        it->second = std::to_string(step);
        eit->second = it->second;
      }
      REQUIRE(it->first == key);
      REQUIRE(it->second == eit->second);
    } else if (action < 85) {
      REQUIRE(map.erase(key) == expected.erase(key));
    } else if (action < 99) {
      auto it = map.find(key);
      auto eit = expected.find(key);
      REQUIRE((it == map.end()) == (eit == expected.end()));
      if (eit != expected.end()) REQUIRE(it->second == eit->second);
    } else if (pick(20) == 0) {
      map.clear();
      expected.clear();
    }
    REQUIRE(map.size() == expected.size());
  }
  // Iteration visits every entry once.
  std::unordered_map<Key, std::string, detail::IdentityHash> seen;
  for (const auto& [key, value] : map) REQUIRE(seen.emplace(key, value).second);
  CHECK(seen == expected);
  for (const auto& [key, value] : expected) REQUIRE(map.count(key) == 1);
}

}  // namespace

TEST_CASE("the identity map's table agrees with std::unordered_map", "[session][unit]") {
  SECTION("integer keys") {
    check_against_unordered_map<std::int64_t>([](int k) { return std::int64_t{k} * 1024; }, 40, 1);
    check_against_unordered_map<std::int64_t>([](int k) { return std::int64_t{k} - 3000; }, 5000,
                                              2);
  }
  SECTION("encoded keys") {
    check_against_unordered_map<std::string>(
        [](int k) { return std::to_string(k) + '\x1f' + std::to_string(k % 7); }, 300, 3);
  }
  SECTION("uuid keys") {
    check_against_unordered_map<Uuid>(
        [](int k) {
          std::array<std::uint8_t, 16> bytes{};
          bytes[15] = static_cast<std::uint8_t>(k);
          bytes[3] = static_cast<std::uint8_t>(k / 256);
          return Uuid(bytes);
        },
        600, 4);
  }
}

TEST_CASE("entries stay where they are while the table grows, and erased ones are reused",
          "[session][unit]") {
  detail::IdentityMap<std::int64_t, std::string> map;
  auto first = map.try_emplace(7).first;
  first->second = "seven";
  const std::string* address = &first->second;
  for (std::int64_t k = 100; k < 5100; ++k) map[k] = std::to_string(k);
  CHECK(&map.find(7)->second == address);
  CHECK(map.find(7)->second == "seven");
  CHECK(map.size() == 5001);
  for (std::int64_t k = 100; k < 5100; k += 2) map.erase(k);
  CHECK(map.size() == 2501);
  for (std::int64_t k = 100; k < 5100; ++k) REQUIRE((map.count(k) == 1) == (k % 2 == 1));
  // Re-inserted keys take the erased entries' places: the blocks do not grow.
  std::set<const std::string*> before;
  for (auto& slot : map) before.insert(&slot.second);
  for (std::int64_t k = 100; k < 5100; k += 2) map[k] = "again";
  std::size_t reused = 0;
  for (std::int64_t k = 100; k < 5100; k += 2) reused += before.count(&map.find(k)->second) == 0;
  CHECK(reused == 2500);
  CHECK(map.size() == 5001);
}

TEST_CASE("get() finds a tracked row whatever integer type or text names its key", "[session]") {
  test::SessionFixture fx;
  std::int32_t id = 0;
  {
    auto s = fx.session();
    auto u = s.add(User{});
    u->email = "keys@example.com";
    s.commit();
    id = u->id;
  }
  auto s = fx.session();
  auto user = s.get<User>(id);
  REQUIRE(user != nullptr);
  const auto before = s.statements_executed();
  CHECK(s.get<User>(std::int64_t{id}) == user);
  CHECK(s.get<User>(static_cast<std::int16_t>(id)) == user);
  CHECK(s.get<User>(std::to_string(id)) == user);
  CHECK(s.statements_executed() == before);  // all from the identity map
  // A removed object is gone for every spelling of its key.
  s.remove(user);
  CHECK(s.get<User>(std::to_string(id)) == nullptr);
  CHECK(s.get<User>(std::int64_t{id}) == nullptr);
  CHECK(s.statements_executed() == before);
  // Text that is no integer is the server's to refuse.
  CHECK_THROWS_AS(s.get<User>(std::string("12abc")), DataError);
}

TEST_CASE("get() finds a tracked row by a uuid key given as a Uuid or as text", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto owner = s.add(User{});
  owner->email = "uuid-keys@example.com";
  s.commit();
  auto key = s.add(ApiKey{});
  key->label = "ci";
  key->user_id = owner->id;
  s.commit();
  const Uuid id = key->id;

  auto t = fx.session();
  auto loaded = t.get<ApiKey>(id);
  REQUIRE(loaded != nullptr);
  const auto before = t.statements_executed();
  CHECK(t.get<ApiKey>(id.str()) == loaded);
  CHECK(t.get<ApiKey>(id) == loaded);
  CHECK(t.statements_executed() == before);
  CHECK(t.get<ApiKey>(Uuid::v4()) == nullptr);
  CHECK_THROWS_AS(t.get<ApiKey>(std::string("not-a-uuid")), DataError);
}

TEST_CASE("an object whose primary key changes moves to its new identity", "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = s.add(User{});
  user->email = "rekey@example.com";
  s.commit();
  const std::int32_t old_id = user->id;
  const std::int32_t new_id = old_id + 1000;
  user->id = new_id;
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id = $1", new_id) == 1);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id = $1", old_id) == 0);
  auto before = s.statements_executed();
  CHECK(s.get<User>(new_id) == user);
  CHECK(s.statements_executed() - before <= 1);  // expired by the commit: read again
  CHECK(s.get<User>(old_id) == nullptr);

  // A composite key: the row moves to (todo, other category) in the map as in the table.
  auto todo = s.add(Todo{});
  todo->title = "keys";
  todo->user_id = new_id;
  auto a = s.add(Category{});
  a->name = "a";
  a->slug = "cat-a";
  auto b = s.add(Category{});
  b->name = "b";
  b->slug = "cat-b";
  s.commit();
  auto link = s.add(TodoCategory{});
  link->todo_id = todo->id;
  link->category_id = a->id;
  s.commit();
  link->category_id = b->id;
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todo_categories WHERE todo_id = $1 AND category_id = $2",
            todo->id, b->id) == 1);
  CHECK(s.get<TodoCategory>(todo->id, b->id) == link);
  CHECK(s.get<TodoCategory>(todo->id, a->id) == nullptr);
}

TEST_CASE("get() with an optional key, or key text the map cannot read, still honours removal",
          "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = test::new_user(s, "optional-key@example.com");
  s.commit();
  const std::int32_t id = user->id;
  auto before = s.statements_executed();
  CHECK(s.get<User>(std::optional<std::int32_t>(id)) == user);
  CHECK(s.get<User>(std::optional<std::int64_t>{}) == nullptr);  // a NULL key: no row
  // " 7" and "+7" are keys to the server, not to from_chars: read, then found in the map.
  CHECK(s.get<User>("+" + std::to_string(id)) == user);
  s.remove(user);
  CHECK(s.get<User>(std::optional<std::int32_t>(id)) == nullptr);
  CHECK(s.get<User>(" " + std::to_string(id)) == nullptr);  // removed, though the row is there
  CHECK(s.statements_executed() - before <= 4);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id = $1", id) == 0);
}

namespace {
struct Setting : Model<Setting, CustomKey, TableName<"idmap_settings">> {
  std::string name;
  std::string value;
  static constexpr auto columns =
      pgorm::columns(column<&Setting::name>(primary_key), column<&Setting::value>());
};
}  // namespace

TEST_CASE("get() with a NULL key does not find a tracked row whose text key is empty",
          "[session]") {
  test::SessionFixture fx;
  Metadata::of<Setting>().create_all(fx.db.conn());
  auto s = fx.session();
  Setting blank;
  blank.value = "the empty name";
  auto tracked = s.add(std::move(blank));
  s.commit();
  REQUIRE(fx.db.scalar<std::int64_t>("SELECT count(*) FROM idmap_settings WHERE name = ''") == 1);
  CHECK(s.get<Setting>(std::string()) == tracked);
  CHECK(s.get<Setting>(std::optional<std::string>("")) == tracked);
  CHECK(s.get<Setting>(std::optional<std::string>{}) == nullptr);  // WHERE name = NULL: no row
}

TEST_CASE("a result with a repeated column name is read from the first column of that name",
          "[session]") {
  test::SessionFixture fx;
  auto s = fx.session();
  auto user = test::new_user(s, "first@example.com");
  s.commit();
  // The model's columns are matched by name; the later "id" and "email" belong to no one.
  auto rows = fx.db.conn().query<User>(
      "SELECT u.email, u.id, u.created_at, u.updated_at, 99 AS id, 'late@example.com' AS email "
      "FROM users u WHERE u.id = $1",
      user->id);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == user->id);
  CHECK(rows[0].email == "first@example.com");
}
