// Unit tests of pgorm::Url: every accepted form, the libpq string it produces (checked by libpq's
// own parser), and error messages that name the bad part but never the password.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgorm/engine/url.hpp"
#include "pgorm/errors.hpp"

using pgorm::ConfigurationError;
using pgorm::Url;
using Params = std::vector<Url::Param>;

namespace {

// What libpq itself reads from a connection string: keyword -> value of the options set in it.
std::map<std::string, std::string> libpq_reads(const std::string& conninfo) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  std::string message = error ? error : "";
  PQfreemem(error);
  INFO("libpq: " << message);
  REQUIRE(options);
  std::map<std::string, std::string> values;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o)
    if (o->val != nullptr) values[o->keyword] = o->val;
  return values;
}

// The message of the ConfigurationError that parsing `text` throws (fails the test otherwise).
std::string parse_error(const std::string& text) {
  try {
    Url::parse(text);
  } catch (const ConfigurationError& e) {
    return e.what();
  }
  FAIL("no ConfigurationError for " << text);
  return {};
}

// Sets or unsets DATABASE_URL for one test and puts the previous value back.
class DatabaseUrlOverride {
 public:
  explicit DatabaseUrlOverride(const char* value) {
    if (const char* old = std::getenv("DATABASE_URL")) previous_ = old;
    if (value)
      ::setenv("DATABASE_URL", value, 1);
    else
      ::unsetenv("DATABASE_URL");
  }
  ~DatabaseUrlOverride() {
    if (previous_)
      ::setenv("DATABASE_URL", previous_->c_str(), 1);
    else
      ::unsetenv("DATABASE_URL");
  }
  DatabaseUrlOverride(const DatabaseUrlOverride&) = delete;
  DatabaseUrlOverride& operator=(const DatabaseUrlOverride&) = delete;

 private:
  std::optional<std::string> previous_;
};

}  // namespace

TEST_CASE("a postgresql:// URL gives user, password, host, port, database and options",
          "[engine][unit][url]") {
  Url url = Url::parse(
      "postgresql://alice:pw@db.example.com:6543/shop"
      "?sslmode=require&application_name=web&connect_timeout=5&options=-c%20work_mem%3D64MB");
  CHECK(url.user() == "alice");
  CHECK(url.has_password());
  CHECK(url.host() == "db.example.com");
  CHECK(url.port() == 6543);
  CHECK(url.database() == "shop");
  CHECK(url.params() == Params{{"sslmode", "require"},
                               {"application_name", "web"},
                               {"connect_timeout", "5"},
                               {"options", "-c work_mem=64MB"}});
  CHECK(url.param("sslmode") == "require");
  CHECK(url.param("port") == "6543");
  CHECK_FALSE(url.param("password"));  // the password is only ever inside conninfo()

  auto libpq = libpq_reads(url.conninfo());
  CHECK(libpq == std::map<std::string, std::string>{{"user", "alice"},
                                                    {"password", "pw"},
                                                    {"host", "db.example.com"},
                                                    {"port", "6543"},
                                                    {"dbname", "shop"},
                                                    {"sslmode", "require"},
                                                    {"application_name", "web"},
                                                    {"connect_timeout", "5"},
                                                    {"options", "-c work_mem=64MB"}});
}

TEST_CASE("postgres:// is the same scheme as postgresql://", "[engine][unit][url]") {
  Url url = Url::parse("postgres://bob@localhost/app");
  CHECK(url.user() == "bob");
  CHECK_FALSE(url.has_password());
  CHECK(url.host() == "localhost");
  CHECK_FALSE(url.port());
  CHECK(url.database() == "app");
  CHECK(url.redacted() == "postgresql://bob@localhost/app");
}

TEST_CASE("a URL may leave out any part, which libpq then takes from its defaults",
          "[engine][unit][url]") {
  CHECK(Url::parse("postgresql://").empty());
  CHECK(Url::parse("postgresql://").conninfo().empty());

  Url db_only = Url::parse("postgresql:///shop");
  CHECK(db_only.host().empty());
  CHECK(db_only.database() == "shop");
  CHECK(libpq_reads(db_only.conninfo()) == std::map<std::string, std::string>{{"dbname", "shop"}});

  Url host_only = Url::parse("postgresql://db:");
  CHECK(host_only.host() == "db");
  CHECK_FALSE(host_only.port());
  CHECK(host_only.database().empty());

  Url empty_password = Url::parse("postgresql://carol:@db/shop");
  CHECK(empty_password.has_password());
  CHECK(libpq_reads(empty_password.conninfo()).at("password").empty());
}

TEST_CASE("percent-encoding is decoded in every part of a URL", "[engine][unit][url]") {
  Url url = Url::parse(
      "postgresql://us%40er:p%40ss%2Fw%3Ard%25@db%2Dprimary:5432/my%20db"
      "?application_name=a%26b%3Dc&options=-csearch_path%3Dsales");
  CHECK(url.user() == "us@er");
  CHECK(url.host() == "db-primary");
  CHECK(url.database() == "my db");
  CHECK(url.param("application_name") == "a&b=c");
  CHECK(url.param("options") == "-csearch_path=sales");
  CHECK(libpq_reads(url.conninfo()).at("password") == "p@ss/w:rd%");
  // And encoded again on the way out.
  CHECK(url.redacted() ==
        "postgresql://us%40er:***@db-primary:5432/my%20db"
        "?application_name=a%26b%3Dc&options=-csearch_path%3Dsales");
}

TEST_CASE("an unencoded @ in a password belongs to the password", "[engine][unit][url]") {
  Url url = Url::parse("postgresql://dave:p@ss:w@db/shop");
  CHECK(url.user() == "dave");
  CHECK(url.host() == "db");
  CHECK(libpq_reads(url.conninfo()).at("password") == "p@ss:w");
}

TEST_CASE("an IPv6 host is written in brackets", "[engine][unit][url]") {
  Url local = Url::parse("postgresql://[::1]:5433/shop");
  CHECK(local.host() == "::1");
  CHECK(local.port() == 5433);
  CHECK(local.redacted() == "postgresql://[::1]:5433/shop");
  CHECK(libpq_reads(local.conninfo()).at("host") == "::1");

  Url remote = Url::parse("postgresql://erin@[2001:db8::7]/shop");
  CHECK(remote.host() == "2001:db8::7");
  CHECK_FALSE(remote.port());
}

TEST_CASE("a unix-socket directory can be an encoded host or a host parameter",
          "[engine][unit][url]") {
  Url encoded = Url::parse("postgresql://%2Fvar%2Frun%2Fpostgresql/shop");
  CHECK(encoded.host() == "/var/run/postgresql");
  CHECK(encoded.database() == "shop");
  CHECK(encoded.redacted() == "postgresql://%2Fvar%2Frun%2Fpostgresql/shop");

  Url parameter = Url::parse("postgresql:///shop?host=/var/run/postgresql&port=5433");
  CHECK(parameter.host() == "/var/run/postgresql");
  CHECK(parameter.port() == 5433);
  CHECK(parameter.params().empty());
  CHECK(libpq_reads(parameter.conninfo()) ==
        std::map<std::string, std::string>{
            {"host", "/var/run/postgresql"}, {"port", "5433"}, {"dbname", "shop"}});
}

TEST_CASE("a libpq keyword string is read with libpq's quoting rules", "[engine][unit][url]") {
  Url url = Url::parse(
      R"(  host=localhost port = 5432 dbname='my shop' user=frank password='it\'s a \\ secret' )"
      R"(sslmode=disable application_name=back\ end)");
  CHECK(url.host() == "localhost");
  CHECK(url.port() == 5432);
  CHECK(url.database() == "my shop");
  CHECK(url.user() == "frank");
  CHECK(url.has_password());
  CHECK(url.params() == Params{{"sslmode", "disable"}, {"application_name", "back end"}});
  CHECK(libpq_reads(url.conninfo()).at("password") == R"(it's a \ secret)");
  CHECK(url.redacted() ==
        "postgresql://frank:***@localhost:5432/"
        "my%20shop?sslmode=disable&application_name=back%20end");
}

TEST_CASE("the empty string means libpq's PG* environment variables", "[engine][unit][url]") {
  for (const char* text : {"", "   "}) {
    Url url = Url::parse(text);
    CHECK(url.empty());
    CHECK(url.conninfo().empty());
    CHECK(url.redacted() == "postgresql://");
    CHECK_FALSE(url.port());
  }
}

TEST_CASE("conninfo() quotes every value so that libpq reads it back unchanged",
          "[engine][unit][url]") {
  Url url = Url::parse("postgresql://db/shop");
  url.set_param("user", "o'neil");
  url.set_param("password", R"(a'b\c d=e ')");
  url.set_param("application_name", R"(\'quoted\' app)");
  url.set_param("options", "-c search_path=a,b -c work_mem=1MB");
  url.set_param("port", "6000");
  auto libpq = libpq_reads(url.conninfo());
  CHECK(libpq.at("user") == "o'neil");
  CHECK(libpq.at("password") == R"(a'b\c d=e ')");
  CHECK(libpq.at("application_name") == R"(\'quoted\' app)");
  CHECK(libpq.at("options") == "-c search_path=a,b -c work_mem=1MB");
  CHECK(libpq.at("port") == "6000");
  // Our own parser agrees with libpq on our output.
  Url back = Url::parse(url.conninfo());
  CHECK(back.user() == "o'neil");
  CHECK(back.params() == url.params());
  CHECK(back.conninfo() == url.conninfo());
}

TEST_CASE("set_param replaces an earlier value and rejects unknown options",
          "[engine][unit][url]") {
  Url url = Url::parse("postgresql://db/shop?application_name=one&sslmode=prefer");
  url.set_param("application_name", "two");
  CHECK(url.params() == Params{{"application_name", "two"}, {"sslmode", "prefer"}});
  CHECK_THROWS_AS(url.set_param("sslmod", "require"), ConfigurationError);
  CHECK_THROWS_WITH(url.set_param("port", "x"), Catch::Contains("invalid port 'x'"));
}

TEST_CASE("redacted() shows the URL with the password replaced by ***", "[engine][unit][url]") {
  Url url =
      Url::parse("postgresql://alice:s3cr3t@db:5432/shop?sslmode=verify-full&sslpassword=keyp4ss");
  CHECK(url.redacted() ==
        "postgresql://alice:***@db:5432/shop?sslmode=verify-full&sslpassword=***");
  CHECK(Url::parse("postgresql://:s3cr3t@db").redacted() == "postgresql://:***@db");
  CHECK(Url::parse("host=db password=s3cr3t").redacted() == "postgresql://:***@db");
}

TEST_CASE("malformed URLs and keyword strings are rejected naming the wrong part",
          "[engine][unit][url]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mysql://u@h/db", "unknown scheme 'mysql' in database URL"},
      {"postgresql://h:abc/db", "invalid port 'abc' in database URL"},
      {"postgresql://h:70000/db", "invalid port '70000' in database URL"},
      {"postgresql://h:0/db", "invalid port '0' in database URL"},
      {"postgresql://us%ZZer@h/db", "bad percent-encoding in user name"},
      {"postgresql://h%G1/db", "bad percent-encoding in host"},
      {"postgresql://h/sh%4", "bad percent-encoding in database name"},
      {"postgresql://h/db%00", "percent-encoded NUL byte in database name"},
      {"postgresql://h/db?application_name=%zz",
       "bad percent-encoding in query parameter "
       "'application_name'"},
      {"postgresql://[::1/db", "unterminated '[' in host"},
      {"postgresql://[::1]x/db", "unexpected text after ']'"},
      {"postgresql://h/db?sslmod=require", "unknown connection option 'sslmod' in database URL"},
      {"postgresql://h/db?sslmode", "missing '=' in query parameter 'sslmode'"},
      {"host=h port=x5", "invalid port 'x5' in connection string"},
      {"host=h dbname='shop", "unterminated quoted value of 'dbname'"},
      {"localhost", "missing '=' after 'localhost'"},
      {"host=h bogus=1", "unknown connection option 'bogus' in connection string"},
      {"host=h =x", "missing option name before '='"},
      {std::string("host=h\0x", 8), "NUL byte"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    CHECK_THAT(parse_error(text), Catch::Contains(expected));
  }
}

TEST_CASE("the password never appears in an error message, even when it is the malformed part",
          "[engine][unit][url]") {
  // Every case carries the (itself malformed) password s3cr3t%ZZ or a piece of it, in a place
  // where a naive parser would echo it.
  const std::vector<std::string> cases = {
      "postgresql://alice:s3cr3t%ZZ@db/shop",
      "postgresql://alice:s3cr3t%ZZ@db:abc/shop",
      "postgresql://alice:s3cr3t%ZZ@db1:5432,db2/shop",
      "postgresql://alice:s3cr3t%ZZ@[::1/shop",
      "postgresql://alice:s3cr3t/%ZZ@db/shop",
      "postgresql://alice:s3cr3t?%ZZ@db/shop",
      "postgresql://alice:s3cr3t:%ZZ/db/shop",
      "postgresql://db/shop?password=s3cr3t%ZZ",
      "postgresql://db/shop?password=s3cr3t&%ZZ=1",
      "postgresql://db/shop?password=s3cr3t&s3cr3t%ZZ",
      "postgresql://db/shop?password=s3cr3t&s3cr3tZZ=1",
      "postgresql://db/shop?password=s3cr3t&port=s3cr3t%25ZZ",
      "postgresql://db/shop?sslpassword=s3cr3t&s3cr3tZZ",
      "mysql://alice:s3cr3t%ZZ@db/shop",
      "alice:s3cr3t%ZZ@db/shop",
      "host=db password=s3cr3t%ZZ port=s3cr3t",
      "host=db password=s3cr3t %ZZ",
      "host=db password=s3cr3t s3cr3t%ZZ",
      "host=db password=s3cr3t s3cr3tZZ=x",
      "host=db password=s3cr3t s3cr3t%ZZ=x",
      "host=db password='s3cr3t%ZZ",
      "host=db password='s3cr3t'%ZZ",
      "host=db password=it's s3cr3t%ZZ",
      "postgresql://db1,db2/shop?password=s3cr3t&target_session_attrs=s3cr3t%25ZZ",
      "postgresql://db1,db2/shop?password=s3cr3t&port=5432,s3cr3tZZ",
      "host=db1,db2 password=s3cr3t target_session_attrs=s3cr3t%ZZ",
      "host=db1,db2 password=s3cr3t port=1,s3cr3t%ZZ",
  };
  for (const auto& text : cases) {
    INFO(text);
    std::string message = parse_error(text);
    CHECK(message.find("s3cr3t") == std::string::npos);
    CHECK(message.find("ZZ") == std::string::npos);
  }
}

TEST_CASE("a password shows in neither redacted() nor param()", "[engine][unit][url]") {
  Url url = Url::parse("postgresql://alice:s3cr3t%25ZZ@db/shop?application_name=app");
  CHECK(libpq_reads(url.conninfo()).at("password") == "s3cr3t%ZZ");
  CHECK(url.redacted().find("s3cr3t") == std::string::npos);
  for (const auto& [key, value] : url.params()) CHECK(value.find("s3cr3t") == std::string::npos);
}

TEST_CASE("from_env reads DATABASE_URL, else stands for libpq's variables", "[engine][unit][url]") {
  {
    DatabaseUrlOverride env("postgresql://alice:s3cr3t@db.invalid:5433/shop");
    Url url = Url::from_env();
    CHECK(url.host() == "db.invalid");
    CHECK(url.port() == 5433);
    CHECK(url.database() == "shop");
  }
  {
    DatabaseUrlOverride env(nullptr);
    CHECK(Url::from_env().empty());
  }
}

// ---- host lists -------------------------------------------------------------------------------

namespace {

using Host = Url::Host;
using Hosts = std::vector<Url::Host>;

// What libpq reads from `text` itself and from our conninfo() of it must be the same options.
void check_libpq_agrees(const std::string& text) {
  INFO(text);
  CHECK(libpq_reads(Url::parse(text).conninfo()) == libpq_reads(text));
}

}  // namespace

TEST_CASE("a URL may list several hosts, each with its port, which libpq tries in order",
          "[engine][unit][url]") {
  Url url = Url::parse(
      "postgresql://alice:pw@h1:5432,h2:5433,[::1]:5434/shop?target_session_attrs=read-write");
  CHECK(url.hosts() == Hosts{{"h1", 5432}, {"h2", 5433}, {"::1", 5434}});
  // The first host stays what host() and port() return, for code that knows only one.
  CHECK(url.host() == "h1");
  CHECK(url.port() == 5432);
  CHECK(url.param("host") == "h1,h2,::1");
  CHECK(url.param("port") == "5432,5433,5434");
  CHECK(url.param("target_session_attrs") == "read-write");
  CHECK(libpq_reads(url.conninfo()) ==
        std::map<std::string, std::string>{{"user", "alice"},
                                           {"password", "pw"},
                                           {"host", "h1,h2,::1"},
                                           {"port", "5432,5433,5434"},
                                           {"dbname", "shop"},
                                           {"target_session_attrs", "read-write"}});
  CHECK(url.conninfo().find("host='h1,h2,::1' port='5432,5433,5434'") != std::string::npos);
  CHECK(url.redacted() ==
        "postgresql://alice:***@h1:5432,h2:5433,[::1]:5434/shop?target_session_attrs=read-write");
}

TEST_CASE("a host of a URL list without a port takes the default port", "[engine][unit][url]") {
  Url some = Url::parse("postgresql://h1,h2:5433,h3/shop");
  CHECK(some.hosts() == Hosts{{"h1", std::nullopt}, {"h2", 5433}, {"h3", std::nullopt}});
  CHECK(some.port() == std::nullopt);
  CHECK(libpq_reads(some.conninfo()).at("port") == ",5433,");
  CHECK(some.redacted() == "postgresql://h1,h2:5433,h3/shop");

  Url none = Url::parse("postgresql://h1,h2/shop");
  CHECK(none.hosts() == Hosts{{"h1", std::nullopt}, {"h2", std::nullopt}});
  CHECK_FALSE(none.param("port"));
  CHECK(libpq_reads(none.conninfo()) ==
        std::map<std::string, std::string>{{"host", "h1,h2"}, {"dbname", "shop"}});
}

TEST_CASE("each host of a URL list is percent-decoded, socket directories included",
          "[engine][unit][url]") {
  Url url = Url::parse("postgresql://%2Ftmp,%2Fvar%2Frun%2Fpostgresql:5433,db%2Dreplica/shop");
  CHECK(url.hosts() ==
        Hosts{{"/tmp", std::nullopt}, {"/var/run/postgresql", 5433}, {"db-replica", std::nullopt}});
  CHECK(libpq_reads(url.conninfo()).at("host") == "/tmp,/var/run/postgresql,db-replica");
  CHECK(url.redacted() == "postgresql://%2Ftmp,%2Fvar%2Frun%2Fpostgresql:5433,db-replica/shop");

  Url parameter = Url::parse("postgresql:///shop?host=/tmp,/var/run/postgresql&port=5433");
  CHECK(parameter.hosts() == Hosts{{"/tmp", 5433}, {"/var/run/postgresql", 5433}});
  CHECK(parameter.params().empty());
}

TEST_CASE("a keyword string lists hosts and ports with commas, one port serving every host",
          "[engine][unit][url]") {
  Url paired =
      Url::parse("host=h1,h2 port=5432,5433 dbname=shop target_session_attrs=prefer-standby");
  CHECK(paired.hosts() == Hosts{{"h1", 5432}, {"h2", 5433}});
  CHECK(paired.redacted() ==
        "postgresql://h1:5432,h2:5433/shop?target_session_attrs=prefer-standby");

  Url shared = Url::parse("host=h1,h2,/tmp port=6432");
  CHECK(shared.hosts() == Hosts{{"h1", 6432}, {"h2", 6432}, {"/tmp", 6432}});
  CHECK(libpq_reads(shared.conninfo()) ==
        std::map<std::string, std::string>{{"host", "h1,h2,/tmp"}, {"port", "6432"}});
  // Written back as a URL, every host carries the port, which means the same to libpq.
  CHECK(shared.redacted() == "postgresql://h1:6432,h2:6432,%2Ftmp:6432");
  CHECK(Url::parse(shared.redacted()).hosts() == shared.hosts());

  // The order of the keywords does not matter: the lists are matched once all are read.
  CHECK(Url::parse("port=5432,5433 host=h1,h2").hosts() == Hosts{{"h1", 5432}, {"h2", 5433}});
}

TEST_CASE("hostaddr lists pass through to libpq", "[engine][unit][url]") {
  Url named = Url::parse("host=a.example,b.example hostaddr=10.0.0.1,10.0.0.2 port=5432");
  CHECK(named.param("hostaddr") == "10.0.0.1,10.0.0.2");
  CHECK(libpq_reads(named.conninfo()).at("hostaddr") == "10.0.0.1,10.0.0.2");
  Url back = Url::parse(named.redacted());
  CHECK(back.hosts() == named.hosts());
  CHECK(back.param("hostaddr") == "10.0.0.1,10.0.0.2");

  Url addresses = Url::parse("postgresql:///shop?hostaddr=10.0.0.1,10.0.0.2&port=5432,5433");
  CHECK(addresses.hosts() == Hosts{{"", 5432}, {"", 5433}});
  CHECK(libpq_reads(addresses.conninfo()).at("port") == "5432,5433");
}

TEST_CASE("set_param takes host and port lists and refuses ports that do not fit",
          "[engine][unit][url]") {
  Url url = Url::parse("postgresql://u:pw@db/shop");
  url.set_param("host", "h1,h2");
  url.set_param("port", "5432,5433");
  CHECK(url.hosts() == Hosts{{"h1", 5432}, {"h2", 5433}});
  CHECK(libpq_reads(url.conninfo()).at("host") == "h1,h2");

  // One host with two ports: refused, and the URL keeps its hosts.
  CHECK_THROWS_WITH(url.set_param("host", "h3"),
                    Catch::Contains("2 ports for 1 host in connection options"));
  CHECK(url.hosts() == Hosts{{"h1", 5432}, {"h2", 5433}});
  // A single port fits any host list, so set it first.
  url.set_param("port", "6000");
  url.set_param("host", "h3");
  CHECK(url.hosts() == Hosts{{"h3", 6000}});
  CHECK(url.redacted() == "postgresql://u:***@h3:6000/shop");
}

TEST_CASE("target_session_attrs takes libpq's values and nothing else", "[engine][unit][url]") {
  for (const char* value :
       {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}) {
    INFO(value);
    Url url = Url::parse(std::string("postgresql://h1,h2/db?target_session_attrs=") + value);
    CHECK(url.param("target_session_attrs") == value);
    CHECK(libpq_reads(url.conninfo()).at("target_session_attrs") == value);
    CHECK(Url::parse(std::string("host=h1,h2 target_session_attrs=") + value).params() ==
          url.params());
  }
  const std::string allowed =
      "expected one of any, read-write, read-only, primary, standby, prefer-standby";
  CHECK_THAT(parse_error("postgresql://h1,h2/db?target_session_attrs=master"),
             Catch::Contains("invalid target_session_attrs 'master' in database URL: " + allowed));
  CHECK_THAT(parse_error("host=h1,h2 target_session_attrs=Read-Write"),
             Catch::Contains("invalid target_session_attrs 'Read-Write' in connection string"));
  Url url = Url::parse("postgresql://h1,h2/db");
  CHECK_THROWS_WITH(url.set_param("target_session_attrs", "readwrite"), Catch::Contains(allowed));
  CHECK_FALSE(url.param("target_session_attrs"));
}

TEST_CASE("load_balance_hosts is refused as needing libpq 16", "[engine][unit][url]") {
  if (PQlibVersion() >= 160000) {
    CHECK(
        Url::parse("postgresql://h1,h2/db?load_balance_hosts=random").param("load_balance_hosts") ==
        "random");
    return;
  }
  CHECK_THAT(parse_error("postgresql://h1,h2/db?load_balance_hosts=random"),
             Catch::Contains("connection option 'load_balance_hosts' in database URL needs libpq "
                             "16 or later"));
  CHECK_THAT(parse_error("host=h1,h2 load_balance_hosts=disable"),
             Catch::Contains("'load_balance_hosts' in connection string needs libpq 16"));
  Url url;
  CHECK_THROWS_WITH(url.set_param("load_balance_hosts", "random"), Catch::Contains("libpq 16"));
}

TEST_CASE("malformed host lists are rejected naming the problem", "[engine][unit][url]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"host=h1,h2,h3 port=1,2",
       "2 ports for 3 hosts in connection string: give one port for all hosts or one port per "
       "host"},
      {"postgresql://h1,h2/db?port=1,2,3", "3 ports for 2 hosts in database URL"},
      {"postgresql://h1:1,h2:2/db?host=h3", "2 ports for 1 host in database URL"},
      {"port=5432,5433", "2 ports for 1 host in connection string"},
      {"host=a,b hostaddr=10.0.0.1", "1 hostaddr for 2 hosts in connection string"},
      {"postgresql://h1:5432,h2:x/db", "invalid port 'x' in database URL"},
      {"host=h1,h2 port=5432,x5", "invalid port 'x5' in connection string"},
      {"host=h1,h2 port='5432, 5433'", "invalid port ' 5433' in connection string"},
      {"postgresql://h1,[::1/db", "unterminated '[' in host"},
      {"postgresql://[::1]x,h2/db", "unexpected text after ']'"},
      {"postgresql://h1%2Ch2/db", "percent-encoded ',' in host of database URL"},
      {"postgresql://h1,h%ZZ/db", "bad percent-encoding in host"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    CHECK_THAT(parse_error(text), Catch::Contains(expected));
  }
}

TEST_CASE("host lists round-trip: libpq reads our conninfo as it reads the original",
          "[engine][unit][url]") {
  const std::vector<std::string> texts = {
      "postgresql://alice:s3cr3t@h1:5432,h2:5433/shop?target_session_attrs=read-write",
      "postgresql://alice:s3cr3t@h1,h2:5433,[::1]:5434/shop?target_session_attrs=standby",
      "postgresql://bob:p%40ss@%2Ftmp:5433,db%2Dreplica:5432/shop?sslmode=prefer",
      "postgresql:///shop?host=h1,h2&port=5432,5433&password=s3cr3t",
      "host=h1,h2 port=5432,5433 dbname=shop user=carol password='s3cr3t x'",
      "host=h1,h2,h3 port=6432 password=s3cr3t target_session_attrs=primary",
      "host=a,b hostaddr=10.0.0.1,10.0.0.2 port=5432,5433 password=s3cr3t",
  };
  for (const auto& text : texts) {
    INFO(text);
    check_libpq_agrees(text);
    Url url = Url::parse(text);
    // Parsing our own output gives the same URL back...
    CHECK(Url::parse(url.conninfo()).conninfo() == url.conninfo());
    CHECK(Url::parse(url.conninfo()).hosts() == url.hosts());
    // ...and the redacted form names the same hosts, never the password.
    std::string redacted = url.redacted();
    CHECK(redacted.find("s3cr3t") == std::string::npos);
    CHECK(redacted.find(":***@") != std::string::npos);
    CHECK(Url::parse(redacted).hosts() == url.hosts());
    CHECK(Url::parse(redacted).params() == url.params());
  }
}
