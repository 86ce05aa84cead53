// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <cstdint>

#include <pgorm/pgorm.hpp>

struct Account : pgorm::Model<Account> {
  double balance = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::balance>());
};
int main() {
  // An int64 has more digits than a double's mantissa holds.
  std::int64_t last_balance = 9'007'199'254'740'993;
  auto q = pgorm::select<Account>().after(pgorm::col<&Account::balance>, last_balance).limit(10);
  return q.statement().sql.empty();
}
