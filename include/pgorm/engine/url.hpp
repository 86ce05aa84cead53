// pgorm::Url: where a database lives, parsed from a postgresql:// URL, a libpq keyword string or
// libpq's PG* environment variables, and turned back into a libpq connection string.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgorm {

class Url {
 public:
  using Param = std::pair<std::string, std::string>;

  // Accepts
  //   postgresql://user:password@host:port/database?sslmode=require&application_name=app
  //   postgres://...                                   (the same)
  //   postgresql://%2Fvar%2Frun%2Fpostgresql/db        (a unix-socket directory as the host)
  //   postgresql://[::1]:5433/db                       (IPv6 in brackets)
  //   host=db.example port=5432 dbname=app password='it\'s'   (libpq keyword/value form)
  //   ""                                               (everything from libpq's PG* variables)
  // URL parts are percent-decoded. Query parameters and keywords must be libpq connection options.
  // Only one host is supported. Throws ConfigurationError naming the bad part; the message never
  // contains the password, not even when the password is the malformed part.
  static Url parse(std::string_view text);
  // DATABASE_URL if set, else the empty URL (libpq's PG* variables).
  static Url from_env();

  const std::string& user() const noexcept { return user_; }
  bool has_password() const noexcept { return password_.has_value(); }
  // A host name, an IP address (IPv6 without brackets) or a unix-socket directory ("/...").
  const std::string& host() const noexcept { return host_; }
  std::optional<int> port() const noexcept { return port_; }
  const std::string& database() const noexcept { return database_; }
  // Every other connection option (sslmode, application_name, options, ...), in the given order.
  const std::vector<Param>& params() const noexcept { return params_; }
  std::optional<std::string> param(std::string_view key) const;
  // True for the empty URL: libpq takes everything from its environment variables.
  bool empty() const noexcept;

  // Sets one libpq connection option (host, port, dbname, user and password included), replacing
  // an earlier value. Throws ConfigurationError for an unknown option or a bad port.
  Url& set_param(std::string_view key, std::string value);

  // The libpq keyword/value string, every value single-quoted and escaped. Contains the password:
  // for opening connections only, never for logs or messages.
  std::string conninfo() const;
  // A postgresql:// URL with the password shown as ***: safe for logs and error messages.
  std::string redacted() const;

 private:
  void parse_url(std::string_view after_scheme);
  void parse_keywords(std::string_view text);
  // Routes host/port/dbname/user/password to their fields, checks every other key against libpq.
  // `where` names the source in messages; `echo` says whether the value may be quoted in them.
  void assign(std::string_view key, std::string value, std::string_view where, bool echo);

  std::string user_;
  std::optional<std::string> password_;
  std::string host_;
  std::optional<int> port_;
  std::string database_;
  std::vector<Param> params_;
};

}  // namespace pgorm
