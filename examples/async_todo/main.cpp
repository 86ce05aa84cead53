// The seed's async TodoService in C++ coroutines: create_async_engine, an async_sessionmaker with
// expire_on_commit=false, one session per request, execute(select().offset().limit()), commit,
// refresh. Runs against DATABASE_URL (or libpq's PG* variables), like examples/todo.
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdlib>

#include <fmt/format.h>
#include <pgorm/async.hpp>

#include "../todo/models.hpp"

using namespace std::chrono_literals;
using asio::awaitable;
using todo::Todo;
using todo::TodoStatus;
using todo::User;

struct Pagination {
  std::int64_t skip = 0;
  std::int64_t limit = 100;
};

// The service holds a session for the duration of one request, as `self.db` does in the seed.
class TodoService {
 public:
  explicit TodoService(pgorm::AsyncSession& db) : db_(db) {}

  awaitable<std::vector<std::shared_ptr<Todo>>> list(std::int32_t user_id, Pagination p) {
    co_return co_await db_.execute(pgorm::select<Todo>()
                                       .where(pgorm::col<&Todo::user_id> == user_id)
                                       .order_by(pgorm::col<&Todo::id>)
                                       .offset(p.skip)
                                       .limit(p.limit));
  }

  awaitable<std::shared_ptr<Todo>> create(std::int32_t user_id, std::string title) {
    Todo t;
    t.title = std::move(title);
    t.user_id = user_id;
    auto todo = db_.add(std::move(t));
    co_await db_.commit();
    co_await db_.refresh(todo);  // as in the seed (the flush already wrote server values back)
    co_return todo;
  }

  awaitable<std::shared_ptr<Todo>> complete(std::int32_t id) {
    auto todo = co_await db_.get<Todo>(id, pgorm::Timeout{2s});
    if (!todo) co_return nullptr;
    todo->status = TodoStatus::completed;
    co_await db_.commit();
    co_return todo;
  }

  awaitable<bool> remove(std::int32_t id) {
    auto todo = co_await db_.get<Todo>(id);
    if (!todo) co_return false;
    db_.remove(todo);  // soft delete: sets deleted_at
    co_await db_.commit();
    co_return true;
  }

 private:
  pgorm::AsyncSession& db_;
};

awaitable<int> run(pgorm::AsyncEngine engine) {
  // AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
  auto AsyncSessionLocal = pgorm::async_sessionmaker(engine, {.expire_on_commit = false});

  // async with AsyncSessionLocal() as session: ...
  auto session = AsyncSessionLocal();
  User alice;
  alice.email = "alice@example.com";
  auto user = session.add(std::move(alice));
  co_await session.commit();
  fmt::print("created {}\n", *user);

  TodoService service(session);
  for (const char* title : {"Buy milk", "Write report", "Call mom"})
    co_await service.create(user->id, title);
  auto page = co_await service.list(user->id, {.skip = 0, .limit = 10});
  co_await service.complete(page.at(0)->id);
  co_await service.remove(page.at(2)->id);

  // Two independent reads in one round trip.
  auto [first, count] = co_await pgorm::gather(
      session.get<Todo>(page.at(0)->id),
      session.count(pgorm::select<Todo>().where(pgorm::col<&Todo::user_id> == user->id)));
  fmt::print("first todo: {} ({} live todos)\n", *first, count);

  auto live = co_await service.list(user->id, {});
  for (const auto& t : live) fmt::print("  {}\n", *t);
  co_await session.close();
  if (live.size() != 2 || live[0]->status != TodoStatus::completed || count != 2) {
    fmt::print(stderr, "unexpected result\n");
    co_return EXIT_FAILURE;
  }
  co_return EXIT_SUCCESS;
}

int main() try {
  // Schema setup is a one-off: the sync API does it.
  pgorm::Connection conn = pgorm::Connection::from_env();
  auto metadata = todo::metadata();
  metadata.drop_all(conn);
  metadata.create_all(conn);

  asio::io_context io;  // your server's io_context: the engine only needs its executor
  const char* url = std::getenv("DATABASE_URL");
  auto engine = pgorm::create_async_engine(io, url ? url : "");
  auto result = asio::co_spawn(io, run(engine), asio::use_future);
  io.run();
  int status = result.get();
  metadata.drop_all(conn);
  fmt::print("async todo example finished\n");
  return status;
} catch (const pgorm::Error& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  return EXIT_FAILURE;
}
