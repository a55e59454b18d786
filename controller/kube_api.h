#pragma once

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace grpc_ingress {

// The Kubernetes API as the informers, the leader elector and the status
// writer use it: requests with JSON bodies, and watch streams of events. The
// real one is KubeClient (HTTPS); tests replace it (tests/fakes/fake_kube_api.h).
// Controller thread only: every call and every callback runs there.

struct KubeRequest {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  std::string target;          // path and query, e.g. "/api/v1/services?limit=500"
  std::string body{};          // JSON; empty for none
  std::string content_type = "application/json";
};

struct KubeResponse {
  int status = 0;  // HTTP status
  std::string body;
};

// How a watch stream ended.
struct WatchEnd {
  int status = 0;      // HTTP status of the answer; 0 when none came (connect, TLS, timeout)
  std::string body{};  // the body of a non-200 answer (a Status object), bounded
  std::string error{};  // a transport or framing failure; empty when the server ended a 200 stream
  bool timed_out = false;  // our own deadline for the whole watch passed
};

// An open watch. Dropping the handle does not stop it; cancel() does.
class KubeWatch {
 public:
  virtual ~KubeWatch() = default;
  // Closes the stream; no callback runs after this returns.
  virtual void cancel() = 0;
};

class KubeApi {
 public:
  using ResponseHandler = std::function<void(Result<KubeResponse>)>;
  using EventHandler = std::function<void(nlohmann::json event)>;
  using EndHandler = std::function<void(WatchEnd end)>;

  virtual ~KubeApi() = default;

  // One request; `done` gets the answer (any HTTP status) or the transport
  // error, exactly once, never before request() returns.
  virtual void request(KubeRequest request, ResponseHandler done) = 0;

  // GET `target` (which carries watch=1) and stream its events: `on_event`
  // once per event line ({"type": ..., "object": ...}), then `on_end` once.
  // `timeout` bounds the whole stream, so a silently dead connection ends.
  virtual std::shared_ptr<KubeWatch> watch(std::string target, std::chrono::milliseconds timeout,
                                           EventHandler on_event, EndHandler on_end) = 0;
};

// The `message` (else the `reason`) of a Status object, else the body itself,
// bounded: what a log line should say about a failed request.
std::string status_message(const std::string& body);

// Reading objects from the API: member `key` of a JSON object (null JSON when
// it is absent or `object` is not an object), and a string member ("" else).
const nlohmann::json& json_member(const nlohmann::json& object, const char* key);
std::string json_string_at(const nlohmann::json& object, const char* key);

}  // namespace grpc_ingress
