// Engine: turns EngineOptions into a pool whose factory opens connections already configured
// (application_name and statement_timeout ride in the startup packet, not in extra round trips).
#include "pgorm/engine/engine.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace pgorm {

std::string detail::startup_conninfo(Url url, const EngineOptions& o, std::string settings) {
  if (!o.application_name.empty()) url.set_param("application_name", o.application_name);
  if (!url.param("connect_timeout")) {
    auto ms = o.connect_timeout.count();
    url.set_param("connect_timeout", std::to_string(std::max<long long>(1, (ms + 999) / 1000)));
  }
  if (o.tcp_user_timeout)
    url.set_param("tcp_user_timeout", std::to_string(o.tcp_user_timeout->count()));
  if (o.keepalives_idle)
    url.set_param("keepalives_idle", std::to_string(o.keepalives_idle->count()));
  if (o.keepalives_interval)
    url.set_param("keepalives_interval", std::to_string(o.keepalives_interval->count()));
  if (o.keepalives_count) url.set_param("keepalives_count", std::to_string(*o.keepalives_count));
  if (o.pooler != Pooler::none) {
    if (url.param("options")) {
      ErrorInfo info;
      info.message =
          "the database URL sets 'options', but EngineOptions::pooler names a pooler: PgBouncer "
          "refuses the startup parameter 'options' in session and transaction mode (and with "
          "ignore_startup_parameters it drops the settings silently). Set them on the role or "
          "database (ALTER ROLE ... SET ...), or in the pooler's connect_query";
      throw ConfigurationError(std::move(info));
    }
    return url.conninfo();  // the settings are SET after connecting (see session_setup())
  }
  if (!settings.empty()) {
    std::string options = url.param("options").value_or("");
    if (!options.empty()) options.push_back(' ');
    options += settings;
    url.set_param("options", std::move(options));
  }
  return url.conninfo();
}

bool detail::uses_prepared_statements(const EngineOptions& o) {
  return o.prepared_statements && (o.pooler != Pooler::transaction || o.pooler_prepared_statements);
}

std::string detail::session_setup(const EngineOptions& o) {
  if (o.pooler != Pooler::session || !o.statement_timeout) return {};
  return fmt::format("SET statement_timeout = {}", o.statement_timeout->count());
}

std::string detail::transaction_setup(const EngineOptions& o) {
  if (o.pooler != Pooler::transaction || !o.statement_timeout) return {};
  return fmt::format("SET LOCAL statement_timeout = {}", o.statement_timeout->count());
}

namespace {

// The URL plus what EngineOptions asks of every session.
std::string connection_string(Url url, const EngineOptions& o) {
  std::string settings;
  if (o.statement_timeout)
    settings = fmt::format("-c statement_timeout={}", o.statement_timeout->count());
  return detail::startup_conninfo(std::move(url), o, std::move(settings));
}

Pool::Factory connection_factory(std::string conninfo, const EngineOptions& o) {
  ConnectionSetup setup{o.pooler == Pooler::transaction, detail::session_setup(o),
                        detail::transaction_setup(o)};
  return [conninfo = std::move(conninfo), setup = std::move(setup),
          prepared = detail::uses_prepared_statements(o), binary = o.binary_results] {
    auto connection = std::make_unique<Connection>(conninfo, setup);
    connection->set_prepared_statements(prepared);
    connection->set_binary_results(binary);
    return connection;
  };
}

}  // namespace

struct Engine::State {
  State(Url u, EngineOptions o)
      : url(std::move(u)),
        options(std::move(o)),
        pool(connection_factory(connection_string(url, options), options),
             detail::pool_options_of(options)) {}

  const Url url;
  const EngineOptions options;
  Pool pool;
};

Engine::Engine(std::string_view url, EngineOptions options)
    : Engine(Url::parse(url), std::move(options)) {}

Engine::Engine(Url url, EngineOptions options)
    : state_(std::make_shared<State>(std::move(url), std::move(options))) {}

Engine Engine::from_env(EngineOptions options) {
  return Engine(Url::from_env(), std::move(options));
}

PooledConnection Engine::connect() const {
  return state_->pool.checkout();
}
Pool& Engine::pool() const noexcept {
  return state_->pool;
}
const Url& Engine::url() const noexcept {
  return state_->url;
}
const EngineOptions& Engine::options() const noexcept {
  return state_->options;
}
std::uint64_t Engine::hook_failures() const noexcept {
  const auto& observer = state_->pool.options().observer;
  return observer ? observer->failures() : 0;
}
void Engine::dispose() const {
  state_->pool.dispose();
}

std::string Engine::to_string() const {
  return fmt::format("Engine({}, pool_size={}, max_overflow={})", state_->url.redacted(),
                     state_->options.pool_size, state_->options.max_overflow);
}

Engine create_engine(std::string_view url, EngineOptions options) {
  return Engine(url, std::move(options));
}

}  // namespace pgorm
