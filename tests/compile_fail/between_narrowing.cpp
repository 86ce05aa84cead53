// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <cstdint>

#include <pgorm/pgorm.hpp>

struct Account : pgorm::Model<Account> {
  std::int16_t level = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::level>());
};
int main() {
  long low = 1, high = 100'000;
  auto q = pgorm::select<Account>().where(pgorm::col<&Account::level>.between(low, high));
  return q.statement().sql.empty();
}
