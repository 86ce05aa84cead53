// Built by scripts/run-tests.sh with -fsanitize=address and only `pkg-config --cflags --libs
// pgorm`: a consumer that includes a standard header before <pgorm/async.hpp> must make the same
// allocation choices as the library (Asio's aligned allocation; ASan reports a mismatch otherwise).
#include <string>

#include <pgorm/async.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdio>

int main() {
  asio::io_context io;
  pgorm::AsyncEngine engine(io, std::string());  // libpq's PG* variables
  auto future = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<int> {
        pgorm::AsyncSession session(engine);
        auto rows = co_await session.query<int>("SELECT $1::int + 1", 41);
        co_await session.close();
        co_return rows.at(0);
      },
      asio::use_future);
  io.run();
  int answer = future.get();
  std::puts(answer == 42 ? "asan async consumer ok" : "asan async consumer: unexpected answer");
  return answer == 42 ? 0 : 1;
}
