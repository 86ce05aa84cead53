// Engine: turns EngineOptions into a pool whose factory opens connections already configured
// (application_name and statement_timeout ride in the startup packet, not in extra round trips).
#include "pgorm/engine/engine.hpp"

#include <fmt/format.h>

namespace pgorm {
namespace {

PoolOptions pool_options(const EngineOptions& o) {
  PoolOptions p;
  p.pool_size = o.pool_size;
  p.max_overflow = o.max_overflow;
  p.pool_timeout = o.pool_timeout;
  p.pre_ping = o.pool_pre_ping;
  p.recycle = o.pool_recycle;
  p.order = o.pool_order;
  p.reset_on_return = o.reset_on_return;
  return p;
}

// The URL plus what EngineOptions asks of every session.
std::string connection_string(Url url, const EngineOptions& o) {
  if (!o.application_name.empty()) url.set_param("application_name", o.application_name);
  if (o.statement_timeout) {
    // Appended to any `options` of the URL (such as -csearch_path=...), not replacing them.
    std::string options = url.param("options").value_or("");
    if (!options.empty()) options.push_back(' ');
    options += fmt::format("-c statement_timeout={}", o.statement_timeout->count());
    url.set_param("options", std::move(options));
  }
  return url.conninfo();
}

Pool::Factory connection_factory(std::string conninfo, bool prepared_statements) {
  return [conninfo = std::move(conninfo), prepared_statements] {
    auto connection = std::make_unique<Connection>(conninfo);
    connection->set_prepared_statements(prepared_statements);
    return connection;
  };
}

}  // namespace

struct Engine::State {
  State(Url u, EngineOptions o)
      : url(std::move(u)),
        options(std::move(o)),
        pool(connection_factory(connection_string(url, options), options.prepared_statements),
             pool_options(options)) {}

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
