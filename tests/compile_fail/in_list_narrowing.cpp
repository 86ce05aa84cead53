// expect: this value's C\+\+ type is wider than the column's, so the value could change
#include <cstdint>
#include <vector>

#include <pgorm/pgorm.hpp>

struct Account : pgorm::Model<Account> {
  std::int32_t balance = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::balance>());
};
int main() {
  std::vector<std::int64_t> ids{1, 5'000'000'000};
  auto q = pgorm::select<Account>().where(pgorm::col<&Account::id>.in(ids));
  return q.statement().sql.empty();
}
