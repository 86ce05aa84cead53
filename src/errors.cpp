#include "pgorm/errors.hpp"

#include <iterator>

#include <fmt/format.h>

namespace pgorm {
namespace {

std::string describe(const ErrorInfo& info) {
  // DETAIL is left out on purpose: the server puts row values there ("Key (email)=(...)").
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "{}", info.message);
  if (!info.table.empty()) fmt::format_to(std::back_inserter(out), " [table {}]", info.table);
  if (!info.column.empty()) fmt::format_to(std::back_inserter(out), " [column {}]", info.column);
  if (!info.constraint.empty())
    fmt::format_to(std::back_inserter(out), " [constraint {}]", info.constraint);
  if (!info.sqlstate.empty())
    fmt::format_to(std::back_inserter(out), " [SQLSTATE {}]", info.sqlstate);
  if (!info.statement.empty())
    fmt::format_to(std::back_inserter(out), "\n  statement: {}", info.statement);
  return fmt::to_string(out);
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Error::Error(ErrorInfo info) : std::runtime_error(describe(info)), info_(std::move(info)) {}

void throw_database_error(ErrorInfo info) {
  const std::string& s = info.sqlstate;
  if (s == "23505") throw UniqueViolation(std::move(info));
  if (s == "23503") throw ForeignKeyViolation(std::move(info));
  if (s == "23502") throw NotNullViolation(std::move(info));
  if (s == "23514") throw CheckViolation(std::move(info));
  if (s == "23P01") throw ExclusionViolation(std::move(info));
  if (starts_with(s, "23")) throw IntegrityError(std::move(info));
  if (starts_with(s, "22")) throw DataError(std::move(info));
  if (s == "40001") {
    // The server's message is the only mark of a recovery conflict (English messages; under
    // another lc_messages it stays a SerializationFailure, which is retried the same way).
    if (info.message.find("conflict with recovery") != std::string::npos)
      throw RecoveryConflict(std::move(info));
    throw SerializationFailure(std::move(info));
  }
  if (s == "25006") throw ReadOnlyTransaction(std::move(info));
  if (s == "40P01") throw DeadlockDetected(std::move(info));
  if (s == "40003") throw TransactionInDoubt(std::move(info));
  if (s == "57014") throw QueryCanceled(std::move(info));
  if (s == "55P03") throw LockNotAvailable(std::move(info));
  // A protocol violation (08P01) is the server refusing a message on a connection that still
  // works, e.g. a Bind whose parameters do not fit a statement of the same name that another
  // client of a pooler prepared: not a broken connection, and not to be retried as one. A
  // connection that really broke is reported as Disconnect from its status, before this mapping.
  if (s == "08P01") throw OperationalError(std::move(info));
  if (starts_with(s, "08") || s == "57P01" || s == "57P02" || s == "57P03")
    throw Disconnect(std::move(info));
  if (starts_with(s, "53") || starts_with(s, "54") || starts_with(s, "55") ||
      starts_with(s, "57") || starts_with(s, "58") || starts_with(s, "40"))
    throw OperationalError(std::move(info));
  if (starts_with(s, "42") || starts_with(s, "2B") || starts_with(s, "2D") ||
      starts_with(s, "2F") || starts_with(s, "34") || starts_with(s, "3D") ||
      starts_with(s, "3F") || starts_with(s, "25") || s == "26000")
    throw ProgrammingError(std::move(info));
  if (starts_with(s, "0A")) throw NotSupportedError(std::move(info));
  if (starts_with(s, "XX")) throw InternalError(std::move(info));
  throw DatabaseError(std::move(info));
}

void throw_data_error(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  throw DataError(std::move(info));
}

}  // namespace pgorm
