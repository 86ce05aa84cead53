// Parsing of database URLs and libpq keyword strings. Error messages name the part that is wrong
// and echo a value only where it cannot be (a fragment of) the password: after a password option,
// and anywhere a badly encoded password might have been split, they name positions instead.
#include "pgorm/engine/url.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm {
namespace {

constexpr std::string_view kInUrl = "database URL";
constexpr std::string_view kInKeywords = "connection string";

[[noreturn]] void fail(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  throw ConfigurationError(std::move(info));
}

bool is_secret(std::string_view key) {
  return key == "password" || key == "sslpassword";
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Looks like an option name, so it is safe to quote in a message (and useful to see).
bool is_word(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// libpq's own list of connection options, so that a typo fails here and not at connect time,
// and the check follows whatever libpq version is linked.
bool is_libpq_option(std::string_view key) {
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconndefaults(),
                                                                       &PQconninfoFree);
  if (!options) return true;  // out of memory: let libpq judge at connect time
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o)
    if (key == o->keyword) return true;
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `part` names what is decoded ("password"); the text itself never goes into the message.
std::string percent_decode(std::string_view text, std::string_view part) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) fail(fmt::format("bad percent-encoding in {} of {}", part, kInUrl));
    if (high == 0 && low == 0)
      fail(fmt::format("percent-encoded NUL byte in {} of {}", part, kInUrl));
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// Keeps RFC 3986 unreserved characters and `keep`, percent-encodes everything else.
std::string percent_encode(std::string_view text, std::string_view keep = {}) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(c) != std::string_view::npos)
      out.push_back(c);
    else
      out += fmt::format("%{:02X}", u);
  }
  return out;
}

std::optional<int> parse_port(std::string_view text, std::string_view where, bool echo) {
  if (text.empty()) return std::nullopt;  // "host:" means the default port, as in libpq
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    if (echo) fail(fmt::format("invalid port '{}' in {}", text, where));
    fail(fmt::format("invalid port in {}", where));
  }
  return port;
}

// libpq's comma-separated lists (host, hostaddr, port): "" is no entry, "a," two entries.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (std::size_t start = 0;;) {
    std::size_t comma = text.find(',', start);
    out.emplace_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (&item != &items.front()) out.push_back(',');
    out += item;
  }
  return out;
}

std::vector<std::optional<int>> parse_ports(std::string_view text, std::string_view where,
                                            bool echo) {
  std::vector<std::optional<int>> out;
  for (const auto& item : split_list(text)) out.push_back(parse_port(item, where, echo));
  return out;
}

std::string plural(std::size_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// An option whose value libpq only checks when connecting: check it now, naming the choices.
void check_choice(std::string_view key, std::string_view value,
                  const std::vector<std::string_view>& allowed, std::string_view where, bool echo) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string choices;
  for (auto choice : allowed) choices += fmt::format("{}{}", choices.empty() ? "" : ", ", choice);
  if (echo)
    fail(fmt::format("invalid {} '{}' in {}: expected one of {}", key, value, where, choices));
  fail(fmt::format("invalid {} in {}: expected one of {}", key, where, choices));
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// The scheme of "scheme://...", or nothing when the text is not a URL (a keyword string may hold
// "://" inside a value, so only a leading RFC 3986 scheme counts).
std::optional<std::string_view> url_scheme(std::string_view text) {
  std::size_t i = 0;
  if (text.empty() || !std::isalpha(static_cast<unsigned char>(text[0]))) return std::nullopt;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '+' ||
                             text[i] == '-' || text[i] == '.'))
    ++i;
  if (text.substr(i, 3) != "://") return std::nullopt;
  return text.substr(0, i);
}

}  // namespace

void Url::assign(std::string_view key, std::string value, std::string_view where, bool echo) {
  if (key == "host") {
    hosts_ = split_list(value);
  } else if (key == "port") {
    ports_ = parse_ports(value, where, echo);
  } else if (key == "dbname") {
    database_ = std::move(value);
  } else if (key == "user") {
    user_ = std::move(value);
  } else if (key == "password") {
    password_ = std::move(value);
  } else {
    if (key == "load_balance_hosts" && !is_libpq_option(key))
      fail(fmt::format(
          "connection option 'load_balance_hosts' in {} needs libpq 16 or later (pgorm is linked "
          "with libpq {}.{}): leave it out, and libpq tries the hosts in the given order",
          where, PQlibVersion() / 10000, PQlibVersion() % 10000));
    if (!is_libpq_option(key)) {
      if (echo && is_word(key))
        fail(fmt::format("unknown connection option '{}' in {}", key, where));
      fail(
          fmt::format("unknown connection option after a password in {} (quote or "
                      "percent-encode special characters in passwords)",
                      where));
    }
    if (key == "target_session_attrs")
      check_choice(key, value,
                   {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"},
                   where, echo);
    if (key == "load_balance_hosts") check_choice(key, value, {"disable", "random"}, where, echo);
    auto it = std::find_if(params_.begin(), params_.end(),
                           [&](const Param& p) { return p.first == key; });
    if (it != params_.end())
      it->second = std::move(value);
    else
      params_.emplace_back(std::string(key), std::move(value));
  }
}

// libpq pairs the i-th port (and hostaddr) with the i-th host, or uses a single port for all.
void Url::check_host_lists(std::string_view where) const {
  std::size_t addresses = split_list(param("hostaddr").value_or("")).size();
  if (!hosts_.empty() && addresses > 0 && addresses != hosts_.size())
    fail(fmt::format("{} for {} in {}: give one hostaddr per host", plural(addresses, "hostaddr"),
                     plural(hosts_.size(), "host"), where));
  std::size_t slots = std::max<std::size_t>({hosts_.size(), addresses, 1});
  if (ports_.size() > 1 && ports_.size() != slots)
    fail(fmt::format("{} for {} in {}: give one port for all hosts or one port per host",
                     plural(ports_.size(), "port"), plural(slots, "host"), where));
}

Url& Url::set_param(std::string_view key, std::string value) {
  constexpr std::string_view where = "connection options";
  if (value.find('\0') != std::string::npos)
    fail(fmt::format("NUL byte in connection option '{}'", is_word(key) ? key : "?"));
  Url changed = *this;  // unchanged if the new value does not fit
  changed.assign(key, std::move(value), where, !is_secret(key));
  changed.check_host_lists(where);
  *this = std::move(changed);
  return *this;
}

Url Url::parse(std::string_view text) {
  Url url;
  if (text.find('\0') != std::string_view::npos) fail("the connection string contains a NUL byte");
  if (auto scheme = url_scheme(text)) {
    if (!starts_with_ci(text, "postgresql://") && !starts_with_ci(text, "postgres://"))
      fail(fmt::format("unknown scheme '{}' in {} (expected postgresql:// or postgres://)", *scheme,
                       kInUrl));
    url.parse_url(text.substr(scheme->size() + 3));
    url.check_host_lists(kInUrl);
  } else {
    url.parse_keywords(text);
    url.check_host_lists(kInKeywords);
  }
  return url;
}

// authority [ "/" database ] [ "?" key=value ("&" key=value)* ], after "postgresql://".
void Url::parse_url(std::string_view rest) {
  std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  // An unencoded '/' or '?' in a password ends the authority early and leaves the rest of the
  // password, then '@', in the tail. Say so without echoing any of it.
  if (tail.find('@') != std::string_view::npos)
    fail(
        fmt::format("unexpected '@' after the host in {}: percent-encode '@', '/' and '?' in the "
                    "user name and password",
                    kInUrl));

  std::size_t at = authority.rfind('@');
  std::string_view host_port = authority;
  if (at != std::string_view::npos) {
    std::string_view user_info = authority.substr(0, at);
    host_port = authority.substr(at + 1);
    std::size_t colon = user_info.find(':');
    user_ = percent_decode(user_info.substr(0, colon), "user name");
    if (colon != std::string_view::npos)
      password_ = percent_decode(user_info.substr(colon + 1), "password");
  }

  // host[:port] ("," host[:port])*, each host a name, [IPv6] or an encoded socket directory.
  std::vector<std::string> hosts;
  std::vector<std::optional<int>> ports;
  for (std::size_t i = 0;;) {
    std::string_view port;
    std::size_t end = host_port.find(',', i);
    if (i < host_port.size() && host_port[i] == '[') {
      std::size_t close = host_port.find(']', i);
      if (close == std::string_view::npos)
        fail(fmt::format("unterminated '[' in host of {}", kInUrl));
      hosts.push_back(percent_decode(host_port.substr(i + 1, close - i - 1), "host"));
      end = host_port.find(',', close);
      std::string_view after = host_port.substr(close + 1, end - close - 1);
      if (!after.empty() && after.front() != ':')
        fail(fmt::format("unexpected text after ']' in host of {}", kInUrl));
      if (!after.empty()) port = after.substr(1);
    } else {
      std::string_view entry = host_port.substr(i, end - i);
      std::size_t colon = entry.find(':');
      hosts.push_back(percent_decode(entry.substr(0, colon), "host"));
      if (colon != std::string_view::npos) port = entry.substr(colon + 1);
    }
    // libpq has no escape for ',' inside a host of its list.
    if (hosts.back().find(',') != std::string::npos)
      fail(fmt::format("percent-encoded ',' in host of {}: separate hosts with a plain ','",
                       kInUrl));
    ports.push_back(parse_port(percent_decode(port, "port"), kInUrl, true));
    if (end == std::string_view::npos) break;
    i = end + 1;
  }
  // A single host left out ("postgresql:///db", "postgresql://:5433") is libpq's default.
  if (hosts.size() == 1 && hosts.front().empty()) hosts.clear();
  if (std::none_of(ports.begin(), ports.end(), [](const auto& p) { return p.has_value(); }))
    ports.clear();
  else if (hosts.empty())
    ports.resize(1);
  hosts_ = std::move(hosts);
  ports_ = std::move(ports);

  std::size_t query_start = tail.find('?');
  if (!tail.empty() && tail.front() == '/')
    database_ = percent_decode(tail.substr(1, query_start - 1), "database name");
  if (query_start == std::string_view::npos) return;

  // After a password parameter, an unencoded '&' may have split the password: name no values.
  bool after_secret = false;
  std::string_view query = tail.substr(query_start + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      if (!after_secret && is_word(pair))
        fail(fmt::format("missing '=' in query parameter '{}' of {}", pair, kInUrl));
      fail(fmt::format("missing '=' in a query parameter of {} (percent-encode '&' in passwords)",
                       kInUrl));
    }
    std::string key = percent_decode(pair.substr(0, eq), "query parameter name");
    std::string label = is_word(key) && !after_secret ? fmt::format("query parameter '{}'", key)
                                                      : std::string("a query parameter");
    std::string value = percent_decode(pair.substr(eq + 1), label);
    assign(key, std::move(value), kInUrl, !after_secret && !is_secret(key));
    after_secret = is_secret(key);
  }
}

// key = value pairs separated by white space; values single-quoted or bare, '\' escapes the next
// character (libpq's rules).
void Url::parse_keywords(std::string_view text) {
  std::size_t i = 0;
  bool after_secret = false;
  std::string previous;  // last key, to point at a problem without quoting values
  auto skip_space = [&] {
    while (i < text.size() && is_space(text[i])) ++i;
  };
  for (skip_space(); i < text.size(); skip_space()) {
    std::size_t key_start = i;
    while (i < text.size() && !is_space(text[i]) && text[i] != '=') ++i;
    std::string key(text.substr(key_start, i - key_start));
    skip_space();
    if (i >= text.size() || text[i] != '=') {
      if (!after_secret && is_word(key))
        fail(fmt::format("missing '=' after '{}' in {}", key, kInKeywords));
      if (!previous.empty())
        fail(
            fmt::format("missing '=' after the value of '{}' in {} (quote values that contain "
                        "spaces)",
                        previous, kInKeywords));
      fail(fmt::format("expected key=value pairs or a postgresql:// URL in {}", kInKeywords));
    }
    if (key.empty()) fail(fmt::format("missing option name before '=' in {}", kInKeywords));
    if (after_secret && !is_word(key))
      fail(
          fmt::format("unexpected text after the value of '{}' in {} (quote values that contain "
                      "spaces)",
                      previous, kInKeywords));
    ++i;  // '='
    skip_space();
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\'') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) c = text[i++];
        value.push_back(c);
      }
      if (!closed)
        fail(fmt::format("unterminated quoted value of '{}' in {}",
                         is_word(key) ? key : std::string("an option"), kInKeywords));
    } else {
      while (i < text.size() && !is_space(text[i])) {
        char c = text[i++];
        if (c == '\\' && i < text.size()) c = text[i++];
        value.push_back(c);
      }
    }
    assign(key, std::move(value), kInKeywords, !after_secret && !is_secret(key));
    after_secret = is_secret(key);
    previous = key;
  }
}

Url Url::from_env() {
  const char* url = std::getenv("DATABASE_URL");
  return url ? parse(url) : Url();
}

std::vector<Url::Host> Url::hosts() const {
  std::vector<Host> out;
  std::size_t n = std::max(hosts_.size(), ports_.size());
  for (std::size_t i = 0; i < n; ++i) {
    Host h;
    if (i < hosts_.size()) h.name = hosts_[i];
    if (ports_.size() == 1)
      h.port = ports_.front();
    else if (i < ports_.size())
      h.port = ports_[i];
    out.push_back(std::move(h));
  }
  return out;
}

const std::string& Url::host() const noexcept {
  static const std::string none;
  return hosts_.empty() ? none : hosts_.front();
}

std::optional<int> Url::port() const noexcept {
  return ports_.empty() ? std::nullopt : ports_.front();
}

std::optional<std::string> Url::param(std::string_view key) const {
  if (key == "host") return hosts_.empty() ? std::nullopt : std::optional(join_list(hosts_));
  if (key == "port") {
    if (std::none_of(ports_.begin(), ports_.end(), [](const auto& p) { return p.has_value(); }))
      return std::nullopt;
    std::vector<std::string> ports;
    for (const auto& p : ports_) ports.push_back(p ? std::to_string(*p) : "");
    return join_list(ports);
  }
  if (key == "dbname") return database_.empty() ? std::nullopt : std::optional(database_);
  if (key == "user") return user_.empty() ? std::nullopt : std::optional(user_);
  if (is_secret(key)) return std::nullopt;  // by design: the password stays inside conninfo()
  for (const auto& [k, v] : params_)
    if (k == key) return v;
  return std::nullopt;
}

bool Url::empty() const noexcept {
  return user_.empty() && !password_ && hosts_.empty() && ports_.empty() && database_.empty() &&
         params_.empty();
}

std::string Url::conninfo() const {
  std::string out;
  auto add = [&out](std::string_view key, std::string_view value) {
    if (!out.empty()) out.push_back(' ');
    out.append(key);
    out += "='";
    for (char c : value) {
      if (c == '\\' || c == '\'') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('\'');
  };
  if (auto hosts = param("host")) add("host", *hosts);
  if (auto ports = param("port")) add("port", *ports);
  if (!database_.empty()) add("dbname", database_);
  if (!user_.empty()) add("user", user_);
  if (password_) add("password", *password_);
  for (const auto& [key, value] : params_) add(key, value);
  return out;
}

std::string Url::redacted() const {
  std::string out = "postgresql://";
  if (!user_.empty() || password_) {
    out += percent_encode(user_);
    if (password_) out += ":***";
    out.push_back('@');
  }
  bool first = true;
  for (const auto& [name, port] : hosts()) {
    if (!first) out.push_back(',');
    first = false;
    if (name.find(':') != std::string::npos)
      out += fmt::format("[{}]", percent_encode(name, ":"));
    else
      out += percent_encode(name);
    if (port) out += fmt::format(":{}", *port);
  }
  if (!database_.empty()) {
    out.push_back('/');
    out += percent_encode(database_);
  }
  char separator = '?';
  for (const auto& [key, value] : params_) {
    out += fmt::format("{}{}={}", separator, percent_encode(key),
                       is_secret(key) ? std::string("***") : percent_encode(value));
    separator = '&';
  }
  return out;
}

}  // namespace pgorm
