// expect: of<Model>\(\) takes models of this select
#include <pgorm/pgorm.hpp>

struct Job : pgorm::Model<Job> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Job::name>());
};
struct Worker : pgorm::Model<Worker> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Worker::name>());
};
int main() {
  // Worker is not in the query: PostgreSQL would refuse the OF list at run time.
  auto q = pgorm::select<Job>().for_update().of<Worker>();
  return q.statement().sql.empty();
}
