#pragma once

// The fake Kubernetes API server (tests/fakes/fake_apiserver.py) as a child process,
// and a small HTTPS client for it: objects in and out as JSON, and its fault endpoints
// (/fake/*). docs/fake-apiserver.md lists what the fake imitates. Main thread only (the
// process is started like the other test processes).

#include "tests/integration/process.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

struct FakeApiServerOptions {
  // Flags after --listen/--dir, e.g. {"--bookmark-interval", "0.2"}.
  std::vector<std::string> extra_args{};
  // The Gateway API standard-channel CRDs are installed at start, as in a cluster where
  // they were applied first. false: a cluster without them (--without-gateway-api): the
  // group is absent from discovery and its paths are 404 until install_gateway_api().
  bool gateway_api = true;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(20);
  // One deadline for connect, TLS handshake, write and read of each request.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
};

// The answer to one request: status 0 never reaches the caller (failures throw).
struct ApiResponse {
  int status = 0;
  std::string body;
  nlohmann::json json() const;  // the body parsed; throws std::runtime_error if it is not JSON
};

class FakeApiServer {
 public:
  // Starts the fake on 127.0.0.1:0 writing its certificates, token and kubeconfig into
  // `dir` (its logs go to dir/fake-apiserver.stdout|.stderr) and waits for its
  // LISTENING line. Throws std::runtime_error with its stderr if it does not come.
  static std::unique_ptr<FakeApiServer> start(const std::filesystem::path& dir,
                                              const FakeApiServerOptions& options = {});

  std::string url() const { return url_; }  // https://127.0.0.1:PORT
  uint16_t port() const { return port_; }
  std::filesystem::path dir() const { return dir_; }
  std::filesystem::path kubeconfig() const { return dir_ / "kubeconfig"; }
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  std::string token() const;  // the current contents of dir/token
  Process& process() { return *process_; }

  // The API path of an object from its apiVersion, kind, metadata.name and
  // metadata.namespace ("default" when unset for namespaced kinds), e.g.
  // /apis/networking.k8s.io/v1/namespaces/default/ingresses/web. Throws
  // std::invalid_argument for a kind the fake does not serve or a missing name.
  static std::string path_of(const nlohmann::json& object);

  // Creates the object, or replaces it if it exists (like kubectl apply, ignoring
  // resourceVersion), creating its namespace if missing. If the object has a
  // "status" and its kind has a status subresource, the status is written too.
  // Returns the stored object. Throws std::runtime_error on any API error.
  nlohmann::json apply(const nlohmann::json& object);
  // PUT <path_of(object)>/status with the object as given (its resourceVersion, if
  // set, must be current). Returns the stored object.
  nlohmann::json update_status(const nlohmann::json& object);
  // DELETE; an object that is already gone is fine.
  void remove(const std::string& api_path_of_object);
  void remove_object(const nlohmann::json& object) { remove(path_of(object)); }
  // GET: nullopt on 404; throws on other errors.
  std::optional<nlohmann::json> get(const std::string& path);
  // The stored object (status included) of the object's kind, namespace and name.
  std::optional<nlohmann::json> get_object(const nlohmann::json& object) { return get(path_of(object)); }
  // GET of a collection path (query allowed); throws unless 200.
  nlohmann::json list(const std::string& path);
  // Any request with the current bearer token (or none when `authenticated` is
  // false); never throws for an HTTP error status, only for transport failures.
  ApiResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& content_type = "application/json", bool authenticated = true);

  // Creates (or replaces) the Gateway API CRDs, as `kubectl apply -f standard-install.yaml`
  // does (tests/fakes/gateway_api_crds.json): gateway.networking.k8s.io appears in
  // discovery at once, with v1 gatewayclasses, gateways, grpcroutes, httproutes (each
  // with /status) and v1beta1 referencegrants.
  void install_gateway_api();
  // Deletes those CRDs: their objects are deleted (watchers see DELETED), then watches on
  // them end and their paths answer 404.
  void uninstall_gateway_api();

  // ---- fault injection (see docs/fake-apiserver.md) ----
  // Resets every open watch connection.
  void drop_watches();
  // Every API request answers `code` (a Status) for `duration`; open watches are reset.
  void fail_requests(int code, std::chrono::seconds duration);
  // For `duration`, watches send nothing and new API requests wait.
  void stall(std::chrono::seconds duration);
  // Forgets all history: older resourceVersions get 410, open watches an ERROR 410.
  void compact();
  // A new token in dir/token; the old one gets 401 from now on. Returns the new one.
  std::string rotate_token();
  // [{method, path, query, status, user_agent}] of the API requests so far.
  nlohmann::json requests();
  void reset_log();
  // {request path: number of open watches}.
  nlohmann::json watches();
  // {resourceVersion, compactedResourceVersion, historyLength, objects, stalledSeconds, failing}.
  nlohmann::json state();

 private:
  FakeApiServer() = default;
  nlohmann::json fake_call(const std::string& method, const std::string& target);
  nlohmann::json expect_json(const std::string& method, const std::string& target, const std::string& body,
                             const std::string& content_type = "application/json");

  std::filesystem::path dir_;
  std::string url_;
  uint16_t port_ = 0;
  std::chrono::milliseconds request_timeout_{};
  std::unique_ptr<Process> process_;
};

}  // namespace grpc_ingress::testing
