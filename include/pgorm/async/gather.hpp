// pgorm::gather: awaits several awaitables together, like asyncio.gather. Calls on one
// AsyncSession issued together are written to the server in one pipeline: one round trip.
//   auto [todo, user] = co_await pgorm::gather(session.get<Todo>(1), session.get<User>(2));
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <variant>

namespace pgorm {

namespace detail {
template <class T>
struct gathered {
  using type = T;
};
template <>
struct gathered<void> {
  using type = std::monostate;
};
}  // namespace detail

// Runs the awaitables concurrently (interleaved on one strand of the caller's executor) and
// returns their results in order (std::monostate for awaitable<void>). Every awaitable runs to
// completion; then the first exception, in argument order, is rethrown.
template <class... Ts>
asio::awaitable<std::tuple<typename detail::gathered<Ts>::type...>> gather(
    asio::awaitable<Ts>... operations) {
  using Results = std::tuple<std::optional<typename detail::gathered<Ts>::type>...>;
  auto strand = asio::make_strand(co_await asio::this_coro::executor);
  struct State {
    explicit State(const asio::strand<asio::any_io_executor>& ex)
        : done(ex, std::chrono::steady_clock::time_point::max()) {}
    Results results;
    std::exception_ptr errors[sizeof...(Ts) > 0 ? sizeof...(Ts) : 1];
    std::size_t left = sizeof...(Ts);
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(strand);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (asio::co_spawn(
         strand,
         [](asio::awaitable<Ts> op, std::shared_ptr<State> s) -> asio::awaitable<void> {
           try {
             if constexpr (std::is_void_v<Ts>) {
               co_await std::move(op);
               std::get<I>(s->results).emplace();
             } else {
               std::get<I>(s->results).emplace(co_await std::move(op));
             }
           } catch (...) {
             s->errors[I] = std::current_exception();
           }
           if (--s->left == 0) s->done.cancel();
         }(std::move(operations), state),
         asio::detached),
     ...);
  }
  (std::index_sequence_for<Ts...>{});
  while (true) {
    // Wait on the strand so that the count is read where it is written.
    bool finished = co_await asio::co_spawn(
        strand,
        [](std::shared_ptr<State> s) -> asio::awaitable<bool> {
          if (s->left > 0)
            co_await s->done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
          co_return s->left == 0;
        }(state),
        asio::use_awaitable);
    if (finished) break;
  }
  for (auto& e : state->errors)
    if (e) std::rethrow_exception(e);
  co_return std::apply([](auto&... r) { return std::tuple(std::move(*r)...); }, state->results);
}

}  // namespace pgorm
