#include "controller/file_source.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

using namespace grpc_ingress;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto kPoll = 5ms;
constexpr auto kDeadline = 5s;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "file_source_test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

  // Written aside and renamed in, so a poll never sees half a file and the
  // new inode marks the change whatever the mtime granularity.
  void write(const std::string& name, const std::string& text) const {
    fs::path target = path_ / name;
    fs::path temp = target.parent_path() / (".tmp-" + target.filename().string());
    std::ofstream(temp) << text;
    fs::rename(temp, target);
  }

 private:
  fs::path path_;
};

std::string service_yaml(const std::string& name, int port = 80) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  ports: [{port: " +
         std::to_string(port) + "}]\n";
}

bool has_service(const Store& store, const std::string& name, int port = 80) {
  auto it = store.services().find({"default", name});
  return it != store.services().end() && it->second.ports.at(0).port == port;
}

// Runs `io` until `done` holds or the deadline passes.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

struct Fixture {
  TempDir dir;
  boost::asio::io_context io;
  Store store;
  int changes = 0;

  Fixture() {
    store.set_on_change([this] { ++changes; });
  }
};

}  // namespace

TEST_CASE("file source loads every manifest file in the directory at start", "[file_source]") {
  Fixture f;
  f.dir.write("a.yaml", service_yaml("a") + "---\n" + service_yaml("b") +
                            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
  f.dir.write("c.json", R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c"}, "spec": {"ports": [{"port": 80}]}},
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "d"}, "spec": {"ports": [{"port": 80}]}}]})");
  f.dir.write("e.yml", service_yaml("e"));
  f.dir.write("README.md", service_yaml("readme"));
  f.dir.write(".hidden.yaml", service_yaml("hidden"));
  fs::create_directory(f.dir.path() / "sub");
  f.dir.write("sub/nested.yaml", service_yaml("nested"));

  FileSource source(f.io, f.dir.path(), kPoll, f.store);
  REQUIRE(source.start().has_value());
  CHECK(f.changes == 1);  // one change for the whole load
  CHECK(f.store.synced());
  CHECK(f.store.services().size() == 5);
  for (const char* name : {"a", "b", "c", "d", "e"}) CHECK(has_service(f.store, name));
}

TEST_CASE("file source fails to start without its directory", "[file_source]") {
  Fixture f;
  FileSource source(f.io, f.dir.path() / "missing", kPoll, f.store);
  auto status = source.start();
  REQUIRE_FALSE(status.has_value());
  CHECK_THAT(status.error().message, Catch::Matchers::Contains("missing"));
}

TEST_CASE("file source follows changes to the directory", "[file_source]") {
  Fixture f;
  f.dir.write("a.yaml", service_yaml("a"));
  f.dir.write("b.yaml", service_yaml("b"));
  FileSource source(f.io, f.dir.path(), kPoll, f.store);
  REQUIRE(source.start().has_value());
  REQUIRE(has_service(f.store, "a"));

  SECTION("a changed file is picked up, in one store change") {
    f.dir.write("a.yaml", service_yaml("a", 81) + "---\n" + service_yaml("a2"));
    REQUIRE(run_until(f.io, [&] { return has_service(f.store, "a", 81); }));
    CHECK(has_service(f.store, "a2"));
    CHECK(f.changes == 2);
  }
  SECTION("a new file is picked up") {
    f.dir.write("c.yaml", service_yaml("c"));
    REQUIRE(run_until(f.io, [&] { return has_service(f.store, "c"); }));
  }
  SECTION("a broken file keeps the objects it had") {
    f.dir.write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: [\n");
    f.dir.write("b.yaml", service_yaml("b", 82));  // a later change to wait for
    REQUIRE(run_until(f.io, [&] { return has_service(f.store, "b", 82); }));
    CHECK(has_service(f.store, "a"));
    // Fixed again: read anew.
    f.dir.write("a.yaml", service_yaml("a", 83));
    REQUIRE(run_until(f.io, [&] { return has_service(f.store, "a", 83); }));
  }
  SECTION("a deleted file removes its objects") {
    fs::remove(f.dir.path() / "a.yaml");
    REQUIRE(run_until(f.io, [&] { return !has_service(f.store, "a"); }));
    CHECK(has_service(f.store, "b"));
  }
  SECTION("an invalid object is reported in the store instead of its old version") {
    f.dir.write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: 3}\n");
    REQUIRE(run_until(f.io, [&] { return !f.store.invalid_objects().empty(); }));
    CHECK_FALSE(has_service(f.store, "a"));
  }
  SECTION("nothing changes while the files do not") {
    int before = f.changes;
    auto until = std::chrono::steady_clock::now() + 20 * kPoll;
    while (std::chrono::steady_clock::now() < until) f.io.run_one_for(kPoll);
    CHECK(f.changes == before);
  }
  SECTION("stop ends polling") {
    source.stop();
    f.dir.write("c.yaml", service_yaml("c"));
    f.io.run_for(10 * kPoll);
    CHECK_FALSE(has_service(f.store, "c"));
  }
}

TEST_CASE("file source follows a ConfigMap mount's ..data symlink swap", "[file_source]") {
  Fixture f;
  fs::create_directory(f.dir.path() / "..v1");
  f.dir.write("..v1/routes.yaml", service_yaml("a"));
  fs::create_directory_symlink("..v1", f.dir.path() / "..data");
  fs::create_symlink("..data/routes.yaml", f.dir.path() / "routes.yaml");

  FileSource source(f.io, f.dir.path(), kPoll, f.store);
  REQUIRE(source.start().has_value());
  REQUIRE(has_service(f.store, "a"));
  CHECK(f.store.services().size() == 1);

  // The kubelet writes the new version aside and swaps ..data atomically.
  fs::create_directory(f.dir.path() / "..v2");
  f.dir.write("..v2/routes.yaml", service_yaml("a", 81));
  fs::create_directory_symlink("..v2", f.dir.path() / "..data_tmp");
  fs::rename(f.dir.path() / "..data_tmp", f.dir.path() / "..data");
  REQUIRE(run_until(f.io, [&] { return has_service(f.store, "a", 81); }));
}
