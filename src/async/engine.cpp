// AsyncEngine: turns AsyncEngineOptions into an AsyncPool whose factory opens connections already
// configured. Everything pgorm's codecs need (DateStyle, TimeZone, IntervalStyle, UTF8) and the
// options (application_name, statement_timeout) ride in the startup packet: no extra round trip.
#include "pgorm/async/engine.hpp"

#include <fmt/format.h>

namespace pgorm {
namespace {

std::string async_connection_string(Url url, const AsyncEngineOptions& o) {
  url.set_param("client_encoding", "UTF8");
  // (Behind a transaction pooler startup_conninfo sends no options; the engine SETs what the
  // pooler tracks after connecting, and statement_timeout rides with each BEGIN.)
  // The same session settings the sync Connection makes with SET after connecting.
  std::string settings = "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601";
  if (o.statement_timeout)
    settings += fmt::format(" -c statement_timeout={}", o.statement_timeout->count());
  return detail::startup_conninfo(std::move(url), o, std::move(settings));
}

}  // namespace

struct AsyncEngine::State {
  State(asio::any_io_executor ex, Url u, AsyncEngineOptions o)
      : executor(std::move(ex)),
        url(std::move(u)),
        options(std::move(o)),
        conninfo(async_connection_string(url, options)),
        pool([this](std::optional<AsyncClock::time_point> until) { return open(until); },
             detail::pool_options_of(options)) {}

  asio::awaitable<std::shared_ptr<AsyncConnection>> open(
      std::optional<AsyncClock::time_point> until) {
    AsyncConnectionOptions c;
    c.prepared_statements = detail::uses_prepared_statements(options);
    c.binary_results = options.binary_results;
    c.cancel_grace = options.cancel_grace;
    auto deadline = detail::earliest(until, AsyncClock::now() + options.connect_timeout);
    auto connection = co_await AsyncConnection::open(executor, conninfo, c, deadline);
    if (options.pooler != Pooler::none) {
      // No startup options behind a pooler: the settings are SET once. A transaction pooler
      // re-applies those it tracks per client (DateStyle, TimeZone) on every server connection the
      // client's transactions run on, and leaks the others, which it therefore does not get;
      // client_encoding is in the startup packet.
      std::vector<PipelineStatement> setup;
      setup.push_back({"SET DateStyle = 'ISO, YMD'", {}, false});
      setup.push_back({"SET TimeZone = 'UTC'", {}, false});
      if (options.pooler == Pooler::session) {
        setup.push_back({"SET IntervalStyle = 'iso_8601'", {}, false});
        if (auto sql = detail::session_setup(options); !sql.empty())
          setup.push_back({std::move(sql), {}, false});
      }
      auto outcomes = co_await connection->pipeline(std::move(setup), deadline);
      for (auto& o : outcomes)
        if (!o.ok()) std::rethrow_exception(o.error);
    }
    connection->set_observer(pool.options().observer);
    co_return connection;
  }

  const asio::any_io_executor executor;
  const Url url;
  const AsyncEngineOptions options;
  const std::string conninfo;
  AsyncPool pool;
};

AsyncEngine::AsyncEngine(asio::any_io_executor executor, std::string_view url,
                         AsyncEngineOptions options)
    : AsyncEngine(std::move(executor), Url::parse(url), std::move(options)) {}

AsyncEngine::AsyncEngine(asio::any_io_executor executor, Url url, AsyncEngineOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(url), std::move(options))) {}

asio::awaitable<AsyncPooledConnection> AsyncEngine::connect(
    std::optional<AsyncClock::time_point> deadline) const {
  auto state = state_;  // the engine may be a temporary of the caller
  co_return co_await state->pool.checkout(deadline);
}

AsyncPool& AsyncEngine::pool() const noexcept {
  return state_->pool;
}
const Url& AsyncEngine::url() const noexcept {
  return state_->url;
}
const AsyncEngineOptions& AsyncEngine::options() const noexcept {
  return state_->options;
}
const asio::any_io_executor& AsyncEngine::get_executor() const noexcept {
  return state_->executor;
}
std::uint64_t AsyncEngine::hook_failures() const noexcept {
  const auto& observer = state_->pool.options().observer;
  return observer ? observer->failures() : 0;
}
void AsyncEngine::dispose() const {
  state_->pool.dispose();
}

std::string AsyncEngine::to_string() const {
  return fmt::format("AsyncEngine({}, pool_size={}, max_overflow={})", state_->url.redacted(),
                     state_->options.pool_size, state_->options.max_overflow);
}

AsyncEngine create_async_engine(asio::any_io_executor executor, std::string_view url,
                                AsyncEngineOptions options) {
  return AsyncEngine(std::move(executor), url, std::move(options));
}
AsyncEngine create_async_engine(asio::io_context& context, std::string_view url,
                                AsyncEngineOptions options) {
  return AsyncEngine(context.get_executor(), url, std::move(options));
}

}  // namespace pgorm
