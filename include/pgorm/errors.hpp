// The one exception hierarchy of pgorm, mapped from PostgreSQL's SQLSTATE codes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgorm {

// What the server (or the client-side check) reported about a failed statement. what() names the
// table, column, constraint and SQLSTATE and the statement text; it never shows parameter values
// or passwords.
struct ErrorInfo {
  std::string message;     // primary message, e.g. "duplicate key value violates ..."
  std::string sqlstate;    // five-character SQLSTATE, empty for client-side errors
  std::string detail;      // server DETAIL line, if any: may quote row values, so what() omits it
  std::string table;       // table the error is about, if reported
  std::string column;      // column the error is about, if reported
  std::string constraint;  // constraint the error is about, if reported
  std::string statement;   // the SQL text (placeholders, never values)
};

// Base of every error pgorm throws.
class Error : public std::runtime_error {
 public:
  explicit Error(ErrorInfo info);
  const ErrorInfo& info() const noexcept { return info_; }
  const std::string& sqlstate() const noexcept { return info_.sqlstate; }
  const std::string& detail() const noexcept { return info_.detail; }
  const std::string& table() const noexcept { return info_.table; }
  const std::string& column() const noexcept { return info_.column; }
  const std::string& constraint() const noexcept { return info_.constraint; }
  const std::string& statement() const noexcept { return info_.statement; }

 private:
  ErrorInfo info_;
};

// Misuse of the library or bad configuration (a malformed URL, an unknown option).
class ConfigurationError : public Error {
  using Error::Error;
};
// An operation the library cannot perform in the current state (e.g. query on a closed session).
class InterfaceError : public Error {
  using Error::Error;
};

// A relationship was read before it was loaded: pgorm never loads one behind your back. Load it
// with a loader option (selectin / joined) or Session::load.
class NotLoaded : public InterfaceError {
  using InterfaceError::InterfaceError;
};

// A statement was asked of a session while one of its streams (Session::stream) is open: the
// stream's cursor holds the session's transaction until the stream ends or is destroyed.
class StreamOpen : public InterfaceError {
  using InterfaceError::InterfaceError;
};

// Errors reported by the server, or detected for a value before it was sent.
class DatabaseError : public Error {
  using Error::Error;
};
class IntegrityError : public DatabaseError {
  using DatabaseError::DatabaseError;
};
class UniqueViolation : public IntegrityError {
  using IntegrityError::IntegrityError;
};
class ForeignKeyViolation : public IntegrityError {
  using IntegrityError::IntegrityError;
};
class NotNullViolation : public IntegrityError {
  using IntegrityError::IntegrityError;
};
class CheckViolation : public IntegrityError {
  using IntegrityError::IntegrityError;
};
class ExclusionViolation : public IntegrityError {
  using IntegrityError::IntegrityError;
};
// Bad value: too long for varchar(N), out of range, unknown enum label, NUL byte in text.
class DataError : public DatabaseError {
  using DatabaseError::DatabaseError;
};
// Problems of the connection or of concurrency rather than of the statement.
class OperationalError : public DatabaseError {
  using DatabaseError::DatabaseError;
};
class Disconnect : public OperationalError {
  using OperationalError::OperationalError;
};
class SerializationFailure : public OperationalError {
  using OperationalError::OperationalError;
};
// A standby cancelled the statement because replaying the primary's log needed what it held (a
// lock, or row versions its snapshot could still see): SQLSTATE 40001 with "conflict with
// recovery". Retry it, on the standby or the primary.
class RecoveryConflict : public SerializationFailure {
  using SerializationFailure::SerializationFailure;
};
// A write (or SELECT ... FOR UPDATE) sent to a read-only transaction or a standby (SQLSTATE
// 25006): a router sent it to the wrong server; send it to the primary.
class ReadOnlyTransaction : public OperationalError {
  using OperationalError::OperationalError;
};
class DeadlockDetected : public OperationalError {
  using OperationalError::OperationalError;
};
class QueryCanceled : public OperationalError {
  using OperationalError::OperationalError;
};
class LockNotAvailable : public OperationalError {
  using OperationalError::OperationalError;
};
// A call ran past its deadline (an AsyncSession call's Timeout, a Session's timeout), and what it
// sent did not take effect (or may not have). Thrown when
//  - the statements were never sent (nothing ran);
//  - the server confirmed the cancel: the cancelled statement and the rest of its segment did not
//    run, so a COMMIT among them certainly did not commit;
//  - the server did not answer within cancel_grace: the connection was discarded and the outcome
//    is unknown (the message says so; a session turns this into TransactionInDoubt when COMMIT was
//    outstanding).
// When the statements completed before the cancel reached them (only their results were late),
// the call succeeds instead, and a statement's own error comes back as that error: retrying on
// DeadlineExceeded never repeats work the server did. The connection is never left mid-protocol.
// A QueryCanceled (SQLSTATE 57014), so code catching the server's statement_timeout catches this
// too.
class DeadlineExceeded : public QueryCanceled {
  using QueryCanceled::QueryCanceled;
};

// The connection broke while COMMIT was outstanding: the outcome is unknown.
class TransactionInDoubt : public OperationalError {
  using OperationalError::OperationalError;
};
// COMMIT did not commit: the transaction had already failed (an earlier statement raised an error,
// even one the caller caught) or the server answered COMMIT with ROLLBACK. Nothing of the
// transaction is in the database; the message names the statement that aborted it when known.
class TransactionRolledBack : public OperationalError {
  using OperationalError::OperationalError;
};
// A flush UPDATE or DELETE matched no row: another transaction deleted the row or (with
// pgorm::Versioned) changed it since this session read it. Names the table and the key; the flush
// (and its transaction, or the innermost savepoint) is rolled back.
class StaleDataError : public OperationalError {
  using OperationalError::OperationalError;
};
// Bad SQL: syntax errors, unknown tables or columns, wrong parameter counts.
class ProgrammingError : public DatabaseError {
  using DatabaseError::DatabaseError;
};
class InternalError : public DatabaseError {
  using DatabaseError::DatabaseError;
};
class NotSupportedError : public DatabaseError {
  using DatabaseError::DatabaseError;
};

// No connection could be checked out of the pool before the timeout.
class PoolTimeout : public Error {
  using Error::Error;
};
// A query that must return exactly one row returned none or several.
class NoResultFound : public Error {
  using Error::Error;
};
class MultipleResultsFound : public Error {
  using Error::Error;
};

// A migration could not be planned or applied: a broken revision chain, a missing file, several
// heads, an unknown database revision, a failed statement (the message names the file, the line
// and the statement; sqlstate() is the server's when the server refused it), or a lock not taken
// in time.
class MigrationError : public Error {
  using Error::Error;
};

// Throws the subclass matching `info.sqlstate` (falls back to DatabaseError).
[[noreturn]] void throw_database_error(ErrorInfo info);

// Throws a client-side DataError (no SQLSTATE) with the given message.
[[noreturn]] void throw_data_error(std::string message);

}  // namespace pgorm
