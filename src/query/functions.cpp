// The parts of the function library that are not templates: function-name checks, date part names.
#include "pgorm/query/functions.hpp"

#include <string>

namespace pgorm::query {

namespace {
bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 63) return false;  // NAMEDATALEN - 1
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!letter(s[0])) return false;
  for (char c : s)
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '$') return false;
  return true;
}
}  // namespace

bool is_function_name(std::string_view name) noexcept {
  auto dot = name.find('.');
  if (dot == std::string_view::npos) return is_identifier(name);
  return is_identifier(name.substr(0, dot)) && is_identifier(name.substr(dot + 1));
}

void throw_bad_function_name(std::string_view name) {
  ErrorInfo info;
  info.message = "pgorm::func: \"" + std::string(name) +
                 "\" is not a function name (an identifier or schema.identifier of letters, "
                 "digits, _ and $)";
  throw ProgrammingError(std::move(info));
}

std::string_view date_part_name(DatePart part) noexcept {
  switch (part) {
    case DatePart::microseconds:
      return "microseconds";
    case DatePart::milliseconds:
      return "milliseconds";
    case DatePart::second:
      return "second";
    case DatePart::minute:
      return "minute";
    case DatePart::hour:
      return "hour";
    case DatePart::day:
      return "day";
    case DatePart::week:
      return "week";
    case DatePart::month:
      return "month";
    case DatePart::quarter:
      return "quarter";
    case DatePart::year:
      return "year";
    case DatePart::decade:
      return "decade";
    case DatePart::century:
      return "century";
    case DatePart::millennium:
      return "millennium";
    case DatePart::dow:
      return "dow";
    case DatePart::isodow:
      return "isodow";
    case DatePart::doy:
      return "doy";
    case DatePart::epoch:
      return "epoch";
    case DatePart::isoyear:
      return "isoyear";
  }
  return "day";
}

}  // namespace pgorm::query
