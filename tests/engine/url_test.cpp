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
          "[engine][unit]") {
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

TEST_CASE("postgres:// is the same scheme as postgresql://", "[engine][unit]") {
  Url url = Url::parse("postgres://bob@localhost/app");
  CHECK(url.user() == "bob");
  CHECK_FALSE(url.has_password());
  CHECK(url.host() == "localhost");
  CHECK_FALSE(url.port());
  CHECK(url.database() == "app");
  CHECK(url.redacted() == "postgresql://bob@localhost/app");
}

TEST_CASE("a URL may leave out any part, which libpq then takes from its defaults",
          "[engine][unit]") {
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

TEST_CASE("percent-encoding is decoded in every part of a URL", "[engine][unit]") {
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

TEST_CASE("an unencoded @ in a password belongs to the password", "[engine][unit]") {
  Url url = Url::parse("postgresql://dave:p@ss:w@db/shop");
  CHECK(url.user() == "dave");
  CHECK(url.host() == "db");
  CHECK(libpq_reads(url.conninfo()).at("password") == "p@ss:w");
}

TEST_CASE("an IPv6 host is written in brackets", "[engine][unit]") {
  Url local = Url::parse("postgresql://[::1]:5433/shop");
  CHECK(local.host() == "::1");
  CHECK(local.port() == 5433);
  CHECK(local.redacted() == "postgresql://[::1]:5433/shop");
  CHECK(libpq_reads(local.conninfo()).at("host") == "::1");

  Url remote = Url::parse("postgresql://erin@[2001:db8::7]/shop");
  CHECK(remote.host() == "2001:db8::7");
  CHECK_FALSE(remote.port());
}

TEST_CASE("a unix-socket directory can be an encoded host or a host parameter", "[engine][unit]") {
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

TEST_CASE("a libpq keyword string is read with libpq's quoting rules", "[engine][unit]") {
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

TEST_CASE("the empty string means libpq's PG* environment variables", "[engine][unit]") {
  for (const char* text : {"", "   "}) {
    Url url = Url::parse(text);
    CHECK(url.empty());
    CHECK(url.conninfo().empty());
    CHECK(url.redacted() == "postgresql://");
    CHECK_FALSE(url.port());
  }
}

TEST_CASE("conninfo() quotes every value so that libpq reads it back unchanged", "[engine][unit]") {
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

TEST_CASE("set_param replaces an earlier value and rejects unknown options", "[engine][unit]") {
  Url url = Url::parse("postgresql://db/shop?application_name=one&sslmode=prefer");
  url.set_param("application_name", "two");
  CHECK(url.params() == Params{{"application_name", "two"}, {"sslmode", "prefer"}});
  CHECK_THROWS_AS(url.set_param("sslmod", "require"), ConfigurationError);
  CHECK_THROWS_WITH(url.set_param("port", "x"), Catch::Contains("invalid port 'x'"));
}

TEST_CASE("redacted() shows the URL with the password replaced by ***", "[engine][unit]") {
  Url url =
      Url::parse("postgresql://alice:s3cr3t@db:5432/shop?sslmode=verify-full&sslpassword=keyp4ss");
  CHECK(url.redacted() ==
        "postgresql://alice:***@db:5432/shop?sslmode=verify-full&sslpassword=***");
  CHECK(Url::parse("postgresql://:s3cr3t@db").redacted() == "postgresql://:***@db");
  CHECK(Url::parse("host=db password=s3cr3t").redacted() == "postgresql://:***@db");
}

TEST_CASE("malformed URLs and keyword strings are rejected naming the wrong part",
          "[engine][unit]") {
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
      {"postgresql://h1:5432,h2:5433/db", "multiple hosts in database URL are not supported"},
      {"postgresql:///db?host=h1,h2", "multiple hosts"},
      {"host=h port=x5", "invalid port 'x5' in connection string"},
      {"host=h port=5432,5433", "multiple hosts"},
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
          "[engine][unit]") {
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
  };
  for (const auto& text : cases) {
    INFO(text);
    std::string message = parse_error(text);
    CHECK(message.find("s3cr3t") == std::string::npos);
    CHECK(message.find("ZZ") == std::string::npos);
  }
}

TEST_CASE("a password shows in neither redacted() nor param()", "[engine][unit]") {
  Url url = Url::parse("postgresql://alice:s3cr3t%25ZZ@db/shop?application_name=app");
  CHECK(libpq_reads(url.conninfo()).at("password") == "s3cr3t%ZZ");
  CHECK(url.redacted().find("s3cr3t") == std::string::npos);
  for (const auto& [key, value] : url.params()) CHECK(value.find("s3cr3t") == std::string::npos);
}

TEST_CASE("from_env reads DATABASE_URL, else stands for libpq's variables", "[engine][unit]") {
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
