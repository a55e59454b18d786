#pragma once

#include "common/result.h"
#include "controller/kube_api.h"
#include "controller/kube_config.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace grpc_ingress {

struct KubeClientOptions {
  std::chrono::milliseconds request_timeout{30'000};  // connect to last byte of a plain request
  std::chrono::milliseconds idle_timeout{30'000};     // an idle kept-alive connection older than this is not reused
  size_t max_connections = 8;       // plain requests in flight; the rest queue
  size_t max_queued = 10'000;       // queued requests beyond which request() fails at once
  size_t max_response_bytes = 256u << 20;  // one list page of big objects fits
  size_t max_event_bytes = 16u << 20;      // one watch event line (an object near etcd's limit, in JSON)
  std::string user_agent = "grpc-ingress";
};

// Splits a watch body into lines as bytes arrive; a line longer than the bound
// is an error (the stream is then abandoned). Empty lines are skipped.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
  Status feed(std::string_view bytes, const std::function<void(std::string_view line)>& on_line);
  size_t buffered() const { return partial_.size(); }

 private:
  size_t max_line_;
  std::string partial_;
};

// The bearer token to send: a static one, or a file's content re-read when the
// file changes (bound service-account tokens rotate about hourly) and after a
// 401. A failed re-read keeps the last good token.
class BearerToken {
 public:
  BearerToken(std::string token, std::filesystem::path file);
  const std::string& current();  // stats the file; re-reads it if it changed
  void invalidate();             // the server refused it: re-read before the next request
  bool reloadable() const { return !file_.empty(); }

 private:
  void reload();

  std::string token_;
  std::filesystem::path file_;
  std::string signature_;  // size, mtime and inode of the file at the last read
};

// KubeApi over HTTPS with Boost.Beast on the controller's io_context: TLS with
// the configured CA (host name checked) and optional client certificate; the
// bearer token on every request, one retry after a 401 with a re-read token;
// kept-alive connections for plain requests; one connection per watch.
class KubeClient : public KubeApi {
 public:
  // Fails when a certificate or key does not load.
  static Result<std::unique_ptr<KubeClient>> create(boost::asio::io_context& io, const KubeConfig& config,
                                                    const KubeClientOptions& options = {});
  ~KubeClient() override;

  void request(KubeRequest request, ResponseHandler done) override;
  std::shared_ptr<KubeWatch> watch(std::string target, std::chrono::milliseconds timeout, EventHandler on_event,
                                   EndHandler on_end) override;

  // Attempts by (method or "WATCH", HTTP status or "error"), for /metrics.
  const std::map<std::pair<std::string, std::string>, uint64_t>& requests_total() const;

  struct Shared;  // what connections share with the client and may outlive it

 private:
  explicit KubeClient(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<Shared> shared_;
};

}  // namespace grpc_ingress
