#pragma once

#include "common/result.h"
#include "controller/translate/store.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <memory>

namespace grpc_ingress {

// --manifests DIR: the objects of every *.yaml, *.yml and *.json file directly
// in DIR (hidden files skipped, symlinks followed, as a ConfigMap mount needs),
// kept in the store and reloaded when a file changes.
//
// Each poll compares names, sizes, mtimes and inodes, and re-reads only the
// files that differ. A file that no longer parses keeps the objects it had
// (the running table stays as it was); a removed file takes its objects away.
// Every reload that changes anything is one store change.
class FileSource {
 public:
  // Runs on `io` (the controller thread); `store` must outlive it.
  FileSource(boost::asio::io_context& io, std::filesystem::path dir,
             std::chrono::milliseconds poll_interval, Store& store);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  // Loads DIR synchronously (an error if it is missing or unreadable; a bad
  // file is only logged), leaving the store synced, then polls on `io`.
  Status start();
  // Stops polling; the store keeps what was loaded. Called by the destructor.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the pending poll, which may outlive us
};

}  // namespace grpc_ingress
