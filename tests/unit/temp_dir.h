#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace grpc_ingress::testing {

// A fresh directory under the system temp dir, removed with its contents.
class UnitTempDir {
 public:
  UnitTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "unit_test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~UnitTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  UnitTempDir(const UnitTempDir&) = delete;
  UnitTempDir& operator=(const UnitTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `name` (relative) with `text`, replacing it in one rename.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::filesystem::path target = path_ / name;
    std::filesystem::path temp = target.parent_path() / (".tmp-" + target.filename().string());
    std::ofstream(temp, std::ios::binary) << text;
    std::filesystem::rename(temp, target);
    return target;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace grpc_ingress::testing
