#include "pgorm/relations/members.hpp"

#include <fmt/format.h>

namespace pgorm::detail {

void throw_not_loaded(std::string_view relation) {
  ErrorInfo info;
  info.message = fmt::format(
      "{} was not loaded: load it with select<...>().options(pgorm::selectin(...)) or "
      "pgorm::joined(...), or with session.load(object, &Model::member); a member missing "
      "from its model's relationships is never loaded",
      relation);
  throw NotLoaded(std::move(info));
}

void throw_parent_gone() {
  ErrorInfo info;
  info.message =
      "many-to-one relationship: the object was reached through its parent's collection and "
      "that parent no longer exists (the collection owns its objects, not the other way round): "
      "keep the parent, or load the relationship again";
  throw NotLoaded(std::move(info));
}

}  // namespace pgorm::detail
