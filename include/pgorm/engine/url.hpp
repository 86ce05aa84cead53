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

  // One entry of the host list, which libpq tries in order.
  struct Host {
    // A host name, an IP address (IPv6 without brackets), a unix-socket directory ("/...") or ""
    // (libpq's default host).
    std::string name;
    std::optional<int> port;  // nullopt: libpq's default port
    friend bool operator==(const Host&, const Host&) = default;
  };

  // Accepts
  //   postgresql://user:password@host:port/database?sslmode=require&application_name=app
  //   postgres://...                                   (the same)
  //   postgresql://%2Fvar%2Frun%2Fpostgresql/db        (a unix-socket directory as the host)
  //   postgresql://[::1]:5433/db                       (IPv6 in brackets)
  //   postgresql://h1:5432,h2,[::1]:5434/db?target_session_attrs=read-write   (a host list)
  //   host=db.example port=5432 dbname=app password='it\'s'   (libpq keyword/value form)
  //   host=h1,h2 port=5432,5433                        (a host list: one port, or one per host)
  //   ""                                               (everything from libpq's PG* variables)
  // URL parts are percent-decoded, each host of a list on its own. Query parameters and keywords
  // must be libpq connection options. Throws ConfigurationError naming the bad part; the message
  // never contains the password, not even when the password is the malformed part.
  static Url parse(std::string_view text);
  // DATABASE_URL if set, else the empty URL (libpq's PG* variables).
  static Url from_env();

  const std::string& user() const noexcept { return user_; }
  bool has_password() const noexcept { return password_.has_value(); }
  // Every host with its port, in the order libpq tries them (a single port applies to every
  // host, as in libpq). Empty when the URL names no host and no port.
  std::vector<Host> hosts() const;
  // The first host of hosts() ("" when none), and its port.
  const std::string& host() const noexcept;
  std::optional<int> port() const noexcept;
  const std::string& database() const noexcept { return database_; }
  // Every other connection option (sslmode, application_name, options, ...), in the given order.
  const std::vector<Param>& params() const noexcept { return params_; }
  // Any option, as libpq would read it: param("host") is the comma-separated host list.
  std::optional<std::string> param(std::string_view key) const;
  // True for the empty URL: libpq takes everything from its environment variables.
  bool empty() const noexcept;

  // Sets one libpq connection option (host, port, dbname, user and password included), replacing
  // an earlier value; "host" and "port" take comma-separated lists as in libpq. Throws
  // ConfigurationError for an unknown option, a bad port or a port list that does not fit the
  // hosts (then the URL is unchanged). To change both lists, set a single port first.
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
  // Checks that the port and hostaddr lists fit the host list, as libpq will at connect time.
  void check_host_lists(std::string_view where) const;

  std::string user_;
  std::optional<std::string> password_;
  // libpq's lists, kept apart as libpq does: a single port applies to every host.
  std::vector<std::string> hosts_;
  std::vector<std::optional<int>> ports_;
  std::string database_;
  std::vector<Param> params_;
};

}  // namespace pgorm
