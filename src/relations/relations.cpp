#include "pgorm/relations/members.hpp"

#include <fmt/format.h>

namespace pgorm::detail {

void throw_not_loaded(std::string_view relation) {
  ErrorInfo info;
  info.message = fmt::format(
      "{} was not loaded: load it with select<...>().options(pgorm::selectin(...)) or "
      "pgorm::joined(...), or with session.load(object, &Model::member)",
      relation);
  throw NotLoaded(std::move(info));
}

}  // namespace pgorm::detail
