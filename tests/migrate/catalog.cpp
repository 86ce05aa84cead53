#include "migrate/catalog.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>

#include <fmt/format.h>

namespace pgorm::test {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          fmt::format("pgorm_migrate_test_{}_{}", ::getpid(), counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
  std::filesystem::path file = path_ / name;
  std::ofstream out(file, std::ios::binary);
  out << text;
  return file;
}

}  // namespace pgorm::test
