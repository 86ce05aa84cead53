// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <cstdint>

#include <pgorm/pgorm.hpp>

struct Account : pgorm::Model<Account> {
  std::int32_t balance = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::balance>());
};
int main() {
  std::int64_t total = 5'000'000'000;
  auto q = pgorm::update<Account>().set(pgorm::col<&Account::balance>, total).all_rows();
  return q.statement().sql.empty();
}
