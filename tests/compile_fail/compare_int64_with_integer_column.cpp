// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <cstdint>

#include <pgorm/pgorm.hpp>

// 5,000,000,000 cast to a 32-bit integer is 705,032,704: the query would match another row.
struct Account : pgorm::Model<Account> {
  std::int32_t balance = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::balance>());
};
int main() {
  auto q = pgorm::select<Account>().where(pgorm::col<&Account::id> == std::int64_t{5'000'000'000});
  return q.statement().sql.empty();
}
