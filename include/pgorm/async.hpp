// pgorm's async layer: AsyncEngine, AsyncSession and gather() on standalone Asio coroutines over
// libpq's non-blocking pipeline mode. Include this instead of (or with) <pgorm/pgorm.hpp>.
#pragma once

#include "pgorm/pgorm.hpp"

#include "pgorm/async/connection.hpp"
#include "pgorm/async/deadline.hpp"
#include "pgorm/async/engine.hpp"
#include "pgorm/async/gather.hpp"
#include "pgorm/async/pool.hpp"
#include "pgorm/async/session.hpp"
