#include "pgorm/model/naming.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

namespace pgorm::naming {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// Words whose plural is the same word.
constexpr std::array<std::string_view, 17> kUncountable{
    "equipment", "information", "rice",  "money",  "species", "series",
    "fish",      "sheep",       "news",  "data",   "metadata", "feedback",
    "software",  "hardware",    "staff", "deer",   "aircraft"};

// Irregular plurals, matched on the whole last word.
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kIrregular{{
    {"person", "people"},     {"man", "men"},           {"woman", "women"},
    {"child", "children"},    {"mouse", "mice"},        {"goose", "geese"},
    {"foot", "feet"},         {"tooth", "teeth"},       {"ox", "oxen"},
    {"datum", "data"},        {"criterion", "criteria"}, {"phenomenon", "phenomena"},
    {"index", "indexes"},     {"matrix", "matrices"},   {"vertex", "vertices"},
    {"quiz", "quizzes"},      {"leaf", "leaves"},       {"knife", "knives"},
    {"life", "lives"},        {"wife", "wives"},        {"half", "halves"},
    {"shelf", "shelves"},
}};

constexpr std::array<std::string_view, 6> kOesWords{"hero", "potato", "tomato",
                                                    "echo", "veto",   "torpedo"};

std::string pluralize_word(std::string_view w) {
  for (auto u : kUncountable)
    if (w == u) return std::string(w);
  for (auto [single, plural] : kIrregular)
    if (w == single) return std::string(plural);
  for (auto o : kOesWords)
    if (w == o) return std::string(w) + "es";
  std::string out(w);
  if (out.empty()) return out;
  if (ends_with(w, "is") && w.size() > 3) {  // analysis -> analyses, crisis -> crises
    out.replace(out.size() - 2, 2, "es");
    return out;
  }
  if (ends_with(w, "s") || ends_with(w, "x") || ends_with(w, "z") || ends_with(w, "ch") ||
      ends_with(w, "sh")) {
    return out + "es";  // address -> addresses, status -> statuses, box -> boxes
  }
  if (w.size() >= 2 && w.back() == 'y' && !is_vowel(w[w.size() - 2])) {
    out.back() = 'i';
    return out + "es";  // category -> categories (but key -> keys)
  }
  return out + "s";
}

}  // namespace

std::string snake_case(std::string_view camel) {
  std::string out;
  out.reserve(camel.size() + 4);
  for (std::size_t i = 0; i < camel.size(); ++i) {
    char c = camel[i];
    if (is_upper(c)) {
      bool prev_lower_or_digit = i > 0 && (is_lower(camel[i - 1]) || is_digit(camel[i - 1]));
      bool acronym_end = i > 0 && is_upper(camel[i - 1]) && i + 1 < camel.size() &&
                         is_lower(camel[i + 1]);
      if (!out.empty() && out.back() != '_' && (prev_lower_or_digit || acronym_end))
        out.push_back('_');
      out.push_back(to_lower(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string pluralize(std::string_view word) {
  std::size_t cut = word.rfind('_');
  if (cut == std::string_view::npos) return pluralize_word(word);
  return std::string(word.substr(0, cut + 1)) + pluralize_word(word.substr(cut + 1));
}

std::string table_name_for(std::string_view class_name) {
  return pluralize(snake_case(class_name));
}

std::string limit_identifier(std::string name) {
  constexpr std::size_t kMax = 63;
  if (name.size() <= kMax) return name;
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across runs and platforms
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  std::string suffix = fmt::format("_{:08x}", h);
  name.resize(kMax - suffix.size());
  return name + suffix;
}

namespace {
std::string joined(const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) {
    if (!out.empty()) out += '_';
    out += c;
  }
  return out;
}
}  // namespace

std::string primary_key_name(std::string_view table) {
  return limit_identifier(fmt::format("pk_{}", table));
}
std::string unique_name(std::string_view table, const std::vector<std::string>& columns) {
  return limit_identifier(fmt::format("uq_{}_{}", table, joined(columns)));
}
std::string index_name(std::string_view table, const std::vector<std::string>& columns) {
  return limit_identifier(fmt::format("ix_{}_{}", table, joined(columns)));
}
std::string foreign_key_name(std::string_view table, const std::vector<std::string>& columns,
                             std::string_view referred_table) {
  return limit_identifier(fmt::format("fk_{}_{}_{}", table, joined(columns), referred_table));
}
std::string check_name(std::string_view table, std::string_view name) {
  return limit_identifier(fmt::format("ck_{}_{}", table, name));
}

}  // namespace pgorm::naming
