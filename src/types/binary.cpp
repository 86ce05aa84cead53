// PostgreSQL's binary format (the send/recv functions of each type) for the types pgorm reads
// in binary: integers, bool, floats, text, bytea, timestamps, dates, uuid and enums.
#include "pgorm/types/binary.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "pgorm/errors.hpp"
#include "pgorm/types/bytea.hpp"
#include "pgorm/types/timestamp.hpp"
#include "pgorm/types/uuid.hpp"

namespace pgorm::detail {
namespace {

// Type OIDs of the built-in types (pg_type.dat; fixed across versions).
constexpr unsigned kBool = 16, kBytea = 17, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
                   kText = 25, kFloat4 = 700, kFloat8 = 701, kUnknown = 705, kBpchar = 1042,
                   kVarchar = 1043, kDate = 1082, kTimestamp = 1114, kTimestamptz = 1184,
                   kUuid = 2950;
// The first OID of objects created after initdb (enums, domains, extensions' types).
constexpr unsigned kFirstNormalObjectId = 16384;

// Microseconds and days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
constexpr std::int64_t kEpochShiftMicros = 946'684'800'000'000;
constexpr std::int64_t kEpochShiftDays = 10'957;

[[noreturn]] void throw_size(std::string_view type, std::size_t size) {
  throw_data_error(
      fmt::format("a binary {} value of {} bytes (the server's type differs from "
                  "the column's declaration)",
                  type, size));
}

template <class U>
U big_endian(std::string_view bytes) {
  U v = 0;
  std::memcpy(&v, bytes.data(), sizeof v);
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(U) == 2)
      v = __builtin_bswap16(v);
    else if constexpr (sizeof(U) == 4)
      v = __builtin_bswap32(v);
    else
      v = __builtin_bswap64(v);
  }
  return v;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_text_type(unsigned type) {
  return type == kText || type == kVarchar || type == kBpchar || type == kName || type == kUnknown;
}

}  // namespace

std::string_view binary_type_name(unsigned type) {
  switch (type) {
    case kBool:
      return "boolean";
    case kBytea:
      return "bytea";
    case kName:
      return "name";
    case kInt8:
      return "bigint";
    case kInt2:
      return "smallint";
    case kInt4:
      return "integer";
    case kText:
      return "text";
    case kFloat4:
      return "real";
    case kFloat8:
      return "double precision";
    case kBpchar:
      return "character";
    case kVarchar:
      return "character varying";
    case kDate:
      return "date";
    case kTimestamp:
      return "timestamp without time zone";
    case kTimestamptz:
      return "timestamp with time zone";
    case kUuid:
      return "uuid";
    default:
      return {};
  }
}

void throw_binary_type(unsigned type, std::string_view cpp_sql_type) {
  const std::string_view name = binary_type_name(type);
  throw_data_error(fmt::format(
      "a value of type {} cannot be read as {} from a binary result (the server's column type "
      "differs from the model's declaration: declare it with pgorm::sql_type, or set "
      "EngineOptions::binary_results = false to read results as text)",
      name.empty() ? fmt::format("OID {}", type) : std::string(name), cpp_sql_type));
}

bool binary_to_text(std::string_view bytes, unsigned type, std::string& out) {
  out.clear();
  if (is_text_type(type)) {
    out.assign(bytes);
    return true;
  }
  char buffer[64];
  auto append_number = [&](auto value) {
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
    (void)ec;  // 64 characters hold any of them
    out.append(buffer, end);
  };
  switch (type) {
    case kInt2:
    case kInt4:
    case kInt8: {
      std::int64_t v = 0;
      binary_int(bytes, type, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max(), "bigint", v);
      append_number(v);
      return true;
    }
    case kBool: {
      bool v = false;
      binary_bool(bytes, type, v);
      out.push_back(v ? 't' : 'f');
      return true;
    }
    case kFloat4:
    case kFloat8: {
      double v = 0;
      if (type == kFloat8) {
        binary_double(bytes, type, v);
      } else {
        float f = 0;
        binary_float(bytes, type, f);
        if (!std::isnan(f) && !std::isinf(f)) {
          append_number(f);
          return true;
        }
        v = f;
      }
      if (std::isnan(v))
        out.append("NaN");
      else if (std::isinf(v))
        out.append(v > 0 ? "Infinity" : "-Infinity");
      else
        append_number(v);
      return true;
    }
    case kBytea: {
      std::vector<std::byte> v;
      binary_bytea(bytes, type, v);
      encode_bytea(v, out);
      return true;
    }
    case kDate: {
      std::chrono::year_month_day v{};
      binary_date(bytes, type, v);
      encode_date(v, out);
      return true;
    }
    case kTimestamp:
    case kTimestamptz: {
      std::chrono::microseconds v{};
      binary_timestamp(bytes, type, v);
      encode_timestamp(v, type == kTimestamptz, out);
      return true;
    }
    case kUuid: {
      std::array<std::uint8_t, 16> v{};
      binary_uuid(bytes, type, v);
      out.append(Uuid(v).str());
      return true;
    }
    default:
      return false;
  }
}

bool binary_int(std::string_view bytes, unsigned type, std::int64_t min, std::int64_t max,
                std::string_view target, std::int64_t& out) {
  std::int64_t v = 0;
  std::size_t size = 0;
  switch (type) {
    case kInt2:
      size = 2;
      break;
    case kInt4:
      size = 4;
      break;
    case kInt8:
      size = 8;
      break;
    default:
      return false;
  }
  if (bytes.size() != size) throw_size(binary_type_name(type), bytes.size());
  if (size == 2)
    v = static_cast<std::int16_t>(big_endian<std::uint16_t>(bytes));
  else if (size == 4)
    v = static_cast<std::int32_t>(big_endian<std::uint32_t>(bytes));
  else
    v = static_cast<std::int64_t>(big_endian<std::uint64_t>(bytes));
  if (v < min || v > max) throw_data_error(fmt::format("value {} out of range for {}", v, target));
  out = v;
  return true;
}

bool binary_bool(std::string_view bytes, unsigned type, bool& out) {
  if (type != kBool) return false;
  if (bytes.size() != 1) throw_size("boolean", bytes.size());
  out = bytes[0] != 0;
  return true;
}

bool binary_double(std::string_view bytes, unsigned type, double& out) {
  if (type == kFloat8) {
    if (bytes.size() != 8) throw_size("double precision", bytes.size());
    out = std::bit_cast<double>(big_endian<std::uint64_t>(bytes));
    return true;
  }
  // A real is read through its text form (its shortest decimal, as from a text result): widening
  // the float would give 0.10000000149011612 for 0.1.
  return false;
}

bool binary_float(std::string_view bytes, unsigned type, float& out) {
  if (type != kFloat4) return false;
  if (bytes.size() != 4) throw_size("real", bytes.size());
  out = std::bit_cast<float>(big_endian<std::uint32_t>(bytes));
  return true;
}

bool binary_text(std::string_view bytes, unsigned type, std::string& out) {
  if (!is_text_type(type)) return false;
  out.assign(bytes);
  return true;
}

bool binary_bytea(std::string_view bytes, unsigned type, std::vector<std::byte>& out) {
  if (type != kBytea) return false;
  const auto* first = reinterpret_cast<const std::byte*>(bytes.data());
  out.assign(first, first + bytes.size());
  return true;
}

bool binary_timestamp(std::string_view bytes, unsigned type, std::chrono::microseconds& out) {
  if (type != kTimestamptz && type != kTimestamp) return false;
  if (bytes.size() != 8) throw_size(binary_type_name(type), bytes.size());
  const auto since_2000 = static_cast<std::int64_t>(big_endian<std::uint64_t>(bytes));
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  // 'infinity' and '-infinity' are the extreme values on both sides.
  if (since_2000 == kMax) {
    out = std::chrono::microseconds::max();
    return true;
  }
  if (since_2000 == kMin) {
    out = std::chrono::microseconds::min();
    return true;
  }
  std::int64_t since_1970 = 0;
  // The extremes themselves stand for the infinities, as when reading text.
  if (__builtin_add_overflow(since_2000, kEpochShiftMicros, &since_1970) || since_1970 == kMax)
    throw_data_error(
        fmt::format("timestamp out of range: {} microseconds after 2000-01-01", since_2000));
  out = std::chrono::microseconds{since_1970};
  return true;
}

bool binary_date(std::string_view bytes, unsigned type, std::chrono::year_month_day& out) {
  if (type != kDate) return false;
  if (bytes.size() != 4) throw_size("date", bytes.size());
  const auto days = static_cast<std::int32_t>(big_endian<std::uint32_t>(bytes));
  // 'infinity' and '-infinity' map to the last and first day std::chrono::year holds, as when
  // reading text.
  constexpr std::chrono::year_month_day kInfinite =
      std::chrono::year::max() / std::chrono::December / 31;
  constexpr std::chrono::year_month_day kMinusInfinite =
      std::chrono::year::min() / std::chrono::January / 1;
  if (days == std::numeric_limits<std::int32_t>::max()) {
    out = kInfinite;
    return true;
  }
  if (days == std::numeric_limits<std::int32_t>::min()) {
    out = kMinusInfinite;
    return true;
  }
  // PostgreSQL's dates span 4713 BC to 5874897 AD; std::chrono::year holds -32767 to 32767.
  const std::chrono::sys_days day{std::chrono::days{days + kEpochShiftDays}};
  const std::chrono::sys_days first{kMinusInfinite}, last{kInfinite};
  if (day <= first || day >= last)
    throw_data_error(fmt::format("date out of range: {} days after 2000-01-01", days));
  out = std::chrono::year_month_day{day};
  return true;
}

bool binary_uuid(std::string_view bytes, unsigned type, std::array<std::uint8_t, 16>& out) {
  if (type != kUuid) return false;
  if (bytes.size() != 16) throw_size("uuid", bytes.size());
  std::memcpy(out.data(), bytes.data(), 16);
  return true;
}

bool binary_enum_type(unsigned type) {
  // An enum's binary form is its label; enum types have OIDs of user-created objects. A text
  // column (a model declaring an enum over a text column) sends its text.
  return type >= kFirstNormalObjectId || is_text_type(type);
}

bool binary_declared(std::string_view declared, std::initializer_list<std::string_view> names) {
  // Lower case, without a type modifier: "VARCHAR(40)" -> "varchar", "timestamp(3) with time
  // zone" -> "timestamp with time zone".
  std::string type = lower(declared);
  if (const std::size_t open = type.find('('); open != std::string::npos) {
    const std::size_t close = type.find(')', open);
    if (close == std::string::npos) return false;
    type.erase(open, close + 1 - open);
  }
  for (std::string_view name : names)
    if (type == name) return true;
  return false;
}

bool binary_declared_integer(std::string_view declared) {
  return binary_declared(
      declared, {"smallint", "integer", "bigint", "int2", "int4", "int8", "int", "smallserial",
                 "serial", "bigserial", "serial2", "serial4", "serial8"});
}

}  // namespace pgorm::detail
