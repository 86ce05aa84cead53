#include "pgorm/migrate/revisions.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::migrate {
namespace {
[[noreturn]] void fail(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  throw MigrationError(std::move(info));
}

std::string where(const RevisionFile& r) {
  return r.path.empty() ? "revision " + r.revision : r.path.string();
}
}  // namespace

RevisionMap RevisionMap::load(const std::filesystem::path& directory) {
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec))
    fail(fmt::format("the versions directory {} does not exist (create it with `init {}`)",
                     directory.string(), directory.string()));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const auto& path = entry.path();
    std::string name = path.filename().string();
    if (!entry.is_regular_file() || path.extension() != ".sql" || name.front() == '.') continue;
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  std::vector<RevisionFile> revisions;
  for (const auto& path : files) {
    RevisionFile r = read_revision_file(path);
    std::string name = path.filename().string();
    if (name.rfind(r.revision + "_", 0) != 0 && name != r.revision + ".sql")
      fail(fmt::format("{}: the file name must start with its revision id '{}_'", path.string(),
                       r.revision));
    revisions.push_back(std::move(r));
  }
  return from(std::move(revisions));
}

RevisionMap RevisionMap::from(std::vector<RevisionFile> revisions) {
  RevisionMap map;
  for (auto& r : revisions) {
    auto it = map.revisions_.find(r.revision);
    if (it != map.revisions_.end())
      fail(fmt::format("two files define revision {}: {} and {}", r.revision, where(it->second),
                       where(r)));
    std::string id = r.revision;
    map.revisions_.emplace(std::move(id), std::move(r));
  }
  map.check_and_sort();
  return map;
}

void RevisionMap::check_and_sort() {
  for (const auto& [id, r] : revisions_) {
    std::set<std::string> seen;
    for (const auto& d : r.down_revisions) {
      if (!seen.insert(d).second)
        fail(fmt::format("{}: down_revision names {} twice", where(r), d));
      if (!revisions_.count(d))
        fail(
            fmt::format("broken chain: {} (revision {}) has down_revision {}, which no file "
                        "defines (a missing or renamed file?)",
                        where(r), id, d));
    }
  }
  // Depth-first topological sort; a revision on the current path again means a cycle.
  order_.clear();
  std::set<std::string> done, visiting;
  auto visit = [&](auto& self, const RevisionFile& r) -> void {
    if (done.count(r.revision)) return;
    if (!visiting.insert(r.revision).second)
      fail(fmt::format("the revisions form a cycle through {} ({})", r.revision, where(r)));
    for (const auto& d : r.down_revisions) self(self, revisions_.find(d)->second);
    visiting.erase(r.revision);
    done.insert(r.revision);
    order_.push_back(r.revision);
  };
  std::vector<const RevisionFile*> all;
  for (const auto& [id, r] : revisions_) all.push_back(&r);
  // By creation time, then by id (std::sort with a total order: libstdc++ 12's stable_sort uses
  // std::get_temporary_buffer, which clang reports as deprecated).
  std::sort(all.begin(), all.end(), [](const RevisionFile* a, const RevisionFile* b) {
    return a->created != b->created ? a->created < b->created : a->revision < b->revision;
  });
  for (const auto* r : all) visit(visit, *r);
}

bool RevisionMap::contains(std::string_view id) const noexcept {
  return revisions_.find(id) != revisions_.end();
}

const RevisionFile& RevisionMap::get(std::string_view id) const {
  if (auto it = revisions_.find(id); it != revisions_.end()) return it->second;
  const RevisionFile* found = nullptr;
  std::vector<std::string> candidates;
  for (const auto& [key, r] : revisions_) {
    if (key.rfind(id, 0) == 0) {
      found = &r;
      candidates.push_back(key);
    }
  }
  if (candidates.size() == 1 && !id.empty()) return *found;
  if (candidates.empty()) fail(fmt::format("no revision file defines revision '{}'", id));
  std::string list;
  for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
  fail(fmt::format("revision prefix '{}' is ambiguous: {}", id, list));
}

std::vector<std::string> RevisionMap::children(std::string_view id) const {
  std::vector<std::string> out;
  for (const auto& [key, r] : revisions_)
    if (std::find(r.down_revisions.begin(), r.down_revisions.end(), id) != r.down_revisions.end())
      out.push_back(key);
  return out;
}

std::vector<std::string> RevisionMap::heads() const {
  std::set<std::string> parents;
  for (const auto& [id, r] : revisions_)
    parents.insert(r.down_revisions.begin(), r.down_revisions.end());
  std::vector<std::string> out;
  for (const auto& [id, r] : revisions_)
    if (!parents.count(id)) out.push_back(id);
  return out;
}

std::vector<std::string> RevisionMap::bases() const {
  std::vector<std::string> out;
  for (const auto& [id, r] : revisions_)
    if (r.down_revisions.empty()) out.push_back(id);
  return out;
}

std::set<std::string> RevisionMap::closure(const std::vector<std::string>& ids) const {
  std::set<std::string> out;
  std::vector<std::string> stack(ids.begin(), ids.end());
  while (!stack.empty()) {
    std::string id = stack.back();
    stack.pop_back();
    if (!out.insert(id).second) continue;
    auto it = revisions_.find(id);
    if (it != revisions_.end())
      for (const auto& d : it->second.down_revisions) stack.push_back(d);
  }
  return out;
}

std::vector<std::string> RevisionMap::heads_of(const std::set<std::string>& applied) const {
  std::set<std::string> parents;
  for (const auto& id : applied) {
    auto it = revisions_.find(id);
    if (it == revisions_.end()) continue;
    for (const auto& ancestor : closure(it->second.down_revisions)) parents.insert(ancestor);
  }
  std::vector<std::string> out;
  for (const auto& id : applied)
    if (!parents.count(id)) out.push_back(id);
  return out;
}

}  // namespace pgorm::migrate
