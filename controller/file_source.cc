#include "controller/file_source.h"

#include "controller/manifest_reader.h"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace grpc_ingress {
namespace {

// What we compare between polls; the inode catches a ConfigMap's ..data swap
// even when size and mtime happen to match.
struct FileSignature {
  off_t size = 0;
  int64_t mtime_ns = 0;
  ino_t inode = 0;
  dev_t device = 0;

  bool operator==(const FileSignature&) const = default;
};

using Listing = std::map<std::string, FileSignature>;  // by file name

Result<Listing> list_manifests(const std::filesystem::path& dir) {
  Listing listing;
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) return Error{"cannot read " + dir.string() + ": " + error.message()};
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::string name = it->path().filename().string();
    if (name.starts_with('.') || !manifest_format(name)) continue;
    struct stat info {};
    // stat, not lstat: follow the symlinks a ConfigMap mount is made of.
    if (::stat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    listing[name] = {info.st_size,
                     static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
                     info.st_ino, info.st_dev};
  }
  if (error) return Error{"cannot read " + dir.string() + ": " + error.message()};
  return listing;
}

}  // namespace

struct FileSource::State {
  struct FileEntry {
    FileSignature signature;
    std::vector<Object> objects;  // from the last read that parsed
  };

  State(boost::asio::io_context& io, std::filesystem::path dir,
        std::chrono::milliseconds interval, Store& store)
      : dir(std::move(dir)), interval(interval), store(store), timer(io) {}

  // Brings the store up to date with DIR; an error only if DIR cannot be listed.
  Status reload() {
    auto listing = list_manifests(dir);
    if (!listing) return listing.error();
    if (loaded && *listing == last_listing) return Ok{};

    std::erase_if(files, [&](const auto& entry) { return !listing->contains(entry.first); });
    for (const auto& [name, signature] : *listing) {
      FileEntry& entry = files[name];
      if (loaded && entry.signature == signature) continue;
      entry.signature = signature;
      auto objects = read_manifest_file(dir / name);
      if (!objects) {
        spdlog::warn("manifests: {}: {}; keeping the {} object(s) it had", (dir / name).string(),
                     objects.error().message, entry.objects.size());
        continue;
      }
      entry.objects = std::move(*objects);
    }
    last_listing = std::move(*listing);
    loaded = true;

    uint64_t generation = store.generation();
    store.replace_all(collect());
    if (store.generation() != generation) log_counts();
    return Ok{};
  }

  // Every file's objects in file-name order; a key defined twice is a mistake
  // worth a warning, and the later file wins (as in the store).
  std::vector<Object> collect() const {
    std::vector<Object> objects;
    std::map<std::pair<ObjectKind, ObjectKey>, const std::string*> defined_in;
    for (const auto& [name, entry] : files) {
      for (const Object& object : entry.objects) {
        auto [it, inserted] = defined_in.emplace(std::pair{kind_of(object), key_of(object)}, &name);
        if (!inserted) {
          spdlog::warn("manifests: {} {} is in both {} and {}; using {}",
                       kind_name(kind_of(object)), key_of(object).to_string(), *it->second, name,
                       name);
          it->second = &name;
        }
        objects.push_back(object);
      }
    }
    return objects;
  }

  void log_counts() const {
    std::string counts;
    for (ObjectKind kind : kAllObjectKinds) {
      if (!counts.empty()) counts += ", ";
      counts += std::to_string(store.count(kind)) + " " + std::string(kind_name(kind));
    }
    spdlog::info("manifests: loaded {} file(s) from {}: {}", files.size(), dir.string(), counts);
  }

  static void schedule(const std::shared_ptr<State>& state) {
    state->timer.expires_after(state->interval);
    state->timer.async_wait([state](const boost::system::error_code& error) {
      if (error || state->stopped) return;
      if (auto status = state->reload(); !status) {
        // Keep what we have: a directory that vanishes is usually a remount in progress.
        spdlog::warn("manifests: {}; keeping the objects loaded before", status.error().message);
      }
      schedule(state);
    });
  }

  const std::filesystem::path dir;
  const std::chrono::milliseconds interval;
  Store& store;
  boost::asio::steady_timer timer;
  bool stopped = false;
  bool loaded = false;
  Listing last_listing;
  std::map<std::string, FileEntry> files;  // by file name
};

FileSource::FileSource(boost::asio::io_context& io, std::filesystem::path dir,
                       std::chrono::milliseconds poll_interval, Store& store)
    : state_(std::make_shared<State>(io, std::move(dir), poll_interval, store)) {}

FileSource::~FileSource() { stop(); }

Status FileSource::start() {
  std::error_code error;
  if (!std::filesystem::is_directory(state_->dir, error)) {
    return Error{"--manifests " + state_->dir.string() + ": not a readable directory" +
                 (error ? " (" + error.message() + ")" : "")};
  }
  if (auto status = state_->reload(); !status) return status;
  State::schedule(state_);
  return Ok{};
}

void FileSource::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

}  // namespace grpc_ingress
