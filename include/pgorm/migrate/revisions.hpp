// The revision graph of a versions directory: every file loaded and checked (no duplicate ids, no
// down_revision without a file, no cycle) before anything runs.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/migrate/script.hpp"

namespace pgorm::migrate {

class RevisionMap {
 public:
  RevisionMap() = default;
  // Reads every *.sql file of `directory`. Throws MigrationError for a directory that does not
  // exist, a file that does not parse, a file name that does not start with its revision id, two
  // files with one id, a down_revision that no file defines (a broken chain) or a cycle.
  static RevisionMap load(const std::filesystem::path& directory);
  // The same checks on revisions held in memory (paths may be empty).
  static RevisionMap from(std::vector<RevisionFile> revisions);

  bool empty() const noexcept { return revisions_.empty(); }
  std::size_t size() const noexcept { return revisions_.size(); }
  bool contains(std::string_view id) const noexcept;
  // By exact id, or by a prefix that only one id starts with. Throws MigrationError otherwise.
  const RevisionFile& get(std::string_view id_or_prefix) const;
  // Revisions no other revision names as down_revision / with no down_revision, sorted.
  std::vector<std::string> heads() const;
  std::vector<std::string> bases() const;
  std::vector<std::string> children(std::string_view id) const;
  // Every revision, parents before children (ties in file-creation order, then id).
  const std::vector<std::string>& order() const noexcept { return order_; }
  // `ids` and all their ancestors.
  std::set<std::string> closure(const std::vector<std::string>& ids) const;
  // The revisions of `applied` that no other revision of `applied` has as an ancestor.
  std::vector<std::string> heads_of(const std::set<std::string>& applied) const;

 private:
  void check_and_sort();
  std::map<std::string, RevisionFile, std::less<>> revisions_;
  std::vector<std::string> order_;
};

}  // namespace pgorm::migrate
