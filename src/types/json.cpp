#include "pgorm/types/json.hpp"

#include "pgorm/types/scalar.hpp"

namespace pgorm {

// The text goes to the server as is: jsonb_in validates it there.
void type_traits<Json>::encode(const Json& v, std::string& out) {
  detail::check_no_nul(v.text);
  out.append(v.text);
}

}  // namespace pgorm
