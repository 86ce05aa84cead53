#include "pgorm/query/fragment.hpp"

#include <charconv>

#include <fmt/format.h>

namespace pgorm::query {

Statement finish(Fragment fragment) {
  Statement out;
  const std::string_view text = fragment.sql;
  const std::size_t first = text.find(kParamMarker);
  if (first == std::string_view::npos) {
    out.sql = std::move(fragment.sql);  // nothing to number
  } else {
    out.sql.reserve(text.size() + 5 * fragment.params.size());
    char number[16];
    int n = 0;
    for (std::size_t done = 0, at = first; done < text.size();) {
      out.sql.append(text.data() + done, at - done);
      if (at == text.size()) break;
      number[0] = '$';
      auto [end, ec] = std::to_chars(number + 1, number + sizeof number, ++n);
      (void)ec;  // 15 characters hold any int
      out.sql.append(number, static_cast<std::size_t>(end - number));
      done = at + 1;
      at = text.find(kParamMarker, done);
      if (at == std::string_view::npos) at = text.size();
    }
  }
  out.params = std::move(fragment.params);
  return out;
}

std::string Statement::to_string() const {
  std::string out = sql;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const char* v = params.value(i);
    out += fmt::format("{}${}={}", i == 0 ? "\n-- params: " : ", ", i + 1,
                       v ? sql::quote_literal(v) : std::string("NULL"));
  }
  return out;
}

}  // namespace pgorm::query
