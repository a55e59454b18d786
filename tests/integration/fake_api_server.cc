#include "tests/integration/fake_api_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

#ifndef FAKE_APISERVER_SCRIPT
#error "FAKE_APISERVER_SCRIPT must name tests/fakes/fake_apiserver.py (set by CMake)"
#endif

namespace grpc_ingress::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's: the fake uses its stdlib only
constexpr const char* kHost = "127.0.0.1";
constexpr const char* kUserAgent = "grpc-ingress-tests/fake-api-server";
constexpr size_t kErrorBodyBytes = 2000;

// The kinds the fake serves, for turning an object into its API path.
struct KindPath {
  std::string_view api_version;
  std::string_view kind;
  std::string_view plural;
  bool namespaced;
  bool status_subresource;
};
constexpr std::array kKinds = {
    KindPath{"v1", "Namespace", "namespaces", false, true},
    KindPath{"v1", "Service", "services", true, true},
    KindPath{"v1", "Secret", "secrets", true, false},
    KindPath{"v1", "Event", "events", true, false},
    KindPath{"networking.k8s.io/v1", "Ingress", "ingresses", true, true},
    KindPath{"networking.k8s.io/v1", "IngressClass", "ingressclasses", false, false},
    KindPath{"discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true, false},
    KindPath{"coordination.k8s.io/v1", "Lease", "leases", true, false},
    KindPath{"events.k8s.io/v1", "Event", "events", true, false},
    KindPath{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false, true},
    // Served while the Gateway API CRDs are installed (FakeApiServerOptions::gateway_api).
    KindPath{"gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", false, true},
    KindPath{"gateway.networking.k8s.io/v1", "Gateway", "gateways", true, true},
    KindPath{"gateway.networking.k8s.io/v1", "GRPCRoute", "grpcroutes", true, true},
    KindPath{"gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", true, true},
    KindPath{"gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "referencegrants", true, false},
    KindPath{"gateway.networking.k8s.io/v1beta1", "GatewayClass", "gatewayclasses", false, true},
    KindPath{"gateway.networking.k8s.io/v1beta1", "Gateway", "gateways", true, true},
    KindPath{"gateway.networking.k8s.io/v1beta1", "HTTPRoute", "httproutes", true, true},
};

// The CRDs of the Gateway API standard install, next to the fake's script (the fake
// installs the same ones unless --without-gateway-api).
nlohmann::json gateway_api_crds() {
  std::filesystem::path file = std::filesystem::path(FAKE_APISERVER_SCRIPT).parent_path() / "gateway_api_crds.json";
  std::ifstream in(file);
  if (!in) throw std::runtime_error("fake API server: cannot read " + file.string());
  try {
    return nlohmann::json::parse(in).at("items");
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("fake API server: " + file.string() + ": " + e.what());
  }
}

const KindPath& kind_of(const nlohmann::json& object) {
  std::string api_version = object.value("apiVersion", "");
  std::string kind = object.value("kind", "");
  for (const KindPath& entry : kKinds) {
    if (entry.api_version == api_version && entry.kind == kind) return entry;
  }
  throw std::invalid_argument("the fake API server serves no " + api_version + " " + kind);
}

std::string collection_path(const KindPath& kind, const std::string& namespace_name) {
  std::string path = kind.api_version.find('/') == std::string_view::npos ? "/api/" : "/apis/";
  path += kind.api_version;
  if (kind.namespaced) path += "/namespaces/" + namespace_name;
  path += "/";
  path += kind.plural;
  return path;
}

std::string namespace_of(const nlohmann::json& object) {
  auto meta = object.value("metadata", nlohmann::json::object());
  std::string ns = meta.value("namespace", "");
  return ns.empty() ? "default" : ns;
}

std::string shorten(const std::string& text) {
  return text.size() <= kErrorBodyBytes ? text : text.substr(0, kErrorBodyBytes) + "...";
}

[[noreturn]] void throw_api_error(const std::string& method, const std::string& target, const ApiResponse& response) {
  throw std::runtime_error("fake API server: " + method + " " + target + " answered " +
                           std::to_string(response.status) + ": " + shorten(response.body));
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// One HTTPS exchange on a fresh connection, verified against the fake's CA, with one
// deadline for connect, handshake, write and read. Throws on a transport failure.
ApiResponse https_exchange(uint16_t port, const std::filesystem::path& ca_file,
                           http::request<http::string_body>& request, std::chrono::milliseconds timeout) {
  asio::io_context io;
  ssl::context tls(ssl::context::tls_client);
  tls.load_verify_file(ca_file.string());
  tls.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  stream.set_verify_callback(ssl::host_name_verification(kHost));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  ApiResponse out;
  std::string error;
  auto fail = [&](const char* step, const beast::error_code& ec) { error = std::string(step) + ": " + ec.message(); };

  auto& socket = beast::get_lowest_layer(stream);
  socket.expires_after(timeout);
  socket.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address(kHost), port), [&](beast::error_code ec) {
    if (ec) return fail("connect", ec);
    stream.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) {
      if (ec) return fail("TLS handshake", ec);
      http::async_write(stream, request, [&](beast::error_code ec, size_t) {
        if (ec) return fail("write", ec);
        http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) {
          if (ec) return fail("read", ec);
          out.status = static_cast<int>(response.result_int());
          out.body = std::move(response.body());
        });
      });
    });
  });
  io.run_for(timeout + std::chrono::seconds(1));  // the stream's own timer ends it first
  if (out.status == 0) {
    throw std::runtime_error("fake API server: " + std::string(request.method_string()) + " " +
                             std::string(request.target()) + ": " + (error.empty() ? "timed out" : error));
  }
  return out;
}

}  // namespace

nlohmann::json ApiResponse::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("fake API server: response is not JSON (" + std::string(e.what()) + "): " +
                             shorten(body));
  }
}

std::unique_ptr<FakeApiServer> FakeApiServer::start(const std::filesystem::path& dir,
                                                    const FakeApiServerOptions& options) {
  std::unique_ptr<FakeApiServer> server(new FakeApiServer());
  server->dir_ = std::filesystem::absolute(dir);
  server->request_timeout_ = options.request_timeout;
  std::vector<std::string> argv = {kPython, FAKE_APISERVER_SCRIPT, "--listen", std::string(kHost) + ":0",
                                   "--dir", server->dir_.string()};
  if (!options.gateway_api) argv.push_back("--without-gateway-api");
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  server->process_ = Process::start(argv, server->dir_, "fake-apiserver");
  auto listening = server->process_->wait_for_line("LISTENING ", options.start_timeout);
  if (!listening) {
    throw std::runtime_error("fake API server printed no LISTENING line within " +
                             std::to_string(options.start_timeout.count()) + " ms; stderr:\n" +
                             tail_of(server->process_->stderr_text(), kErrorBodyBytes * 4));
  }
  server->url_ = *listening;
  auto colon = server->url_.rfind(':');
  int port = colon == std::string::npos ? 0 : std::atoi(server->url_.c_str() + colon + 1);
  if (!server->url_.starts_with("https://") || port <= 0 || port > 65535) {
    throw std::runtime_error("fake API server printed an unexpected LISTENING line: " + server->url_);
  }
  server->port_ = static_cast<uint16_t>(port);
  return server;
}

std::string FakeApiServer::token() const {
  std::string text = read_text(dir_ / "token");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string FakeApiServer::path_of(const nlohmann::json& object) {
  const KindPath& kind = kind_of(object);
  std::string name = object.value("metadata", nlohmann::json::object()).value("name", "");
  if (name.empty()) throw std::invalid_argument("fake API server: object without metadata.name");
  return collection_path(kind, namespace_of(object)) + "/" + name;
}

ApiResponse FakeApiServer::request(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& content_type, bool authenticated) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  if (request.method() == http::verb::unknown) throw std::invalid_argument("unknown HTTP method " + method);
  request.set(http::field::host, std::string(kHost) + ":" + std::to_string(port_));
  request.set(http::field::user_agent, kUserAgent);
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  if (authenticated) request.set(http::field::authorization, "Bearer " + token());
  if (!body.empty()) {
    request.set(http::field::content_type, content_type);
    request.body() = body;
  }
  request.prepare_payload();
  return https_exchange(port_, ca_file(), request, request_timeout_);
}

nlohmann::json FakeApiServer::expect_json(const std::string& method, const std::string& target,
                                          const std::string& body, const std::string& content_type) {
  ApiResponse response = request(method, target, body, content_type);
  if (response.status < 200 || response.status >= 300) throw_api_error(method, target, response);
  return response.json();
}

nlohmann::json FakeApiServer::apply(const nlohmann::json& object) {
  const KindPath& kind = kind_of(object);
  std::string path = path_of(object);
  nlohmann::json body = object;
  body["metadata"].erase("resourceVersion");  // apply replaces whatever is stored
  ApiResponse existing = request("GET", path);
  nlohmann::json stored;
  if (existing.status == 200) {
    stored = expect_json("PUT", path, body.dump());
  } else if (existing.status == 404) {
    std::string collection = collection_path(kind, namespace_of(object));
    ApiResponse created = request("POST", collection, body.dump());
    if (created.status == 404 && kind.namespaced &&
        created.json().value("details", nlohmann::json::object()).value("kind", "") == "namespaces") {
      apply({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", namespace_of(object)}}}});
      created = request("POST", collection, body.dump());
    }
    if (created.status != 201) throw_api_error("POST", collection, created);
    stored = created.json();
  } else {
    throw_api_error("GET", path, existing);
  }
  if (kind.status_subresource && object.contains("status")) {
    nlohmann::json with_status = stored;
    with_status["status"] = object["status"];
    stored = update_status(with_status);
  }
  return stored;
}

nlohmann::json FakeApiServer::update_status(const nlohmann::json& object) {
  return expect_json("PUT", path_of(object) + "/status", object.dump());
}

void FakeApiServer::remove(const std::string& api_path_of_object) {
  ApiResponse response = request("DELETE", api_path_of_object);
  if (response.status != 200 && response.status != 404) throw_api_error("DELETE", api_path_of_object, response);
}

std::optional<nlohmann::json> FakeApiServer::get(const std::string& path) {
  ApiResponse response = request("GET", path);
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) throw_api_error("GET", path, response);
  return response.json();
}

nlohmann::json FakeApiServer::list(const std::string& path) { return expect_json("GET", path, ""); }

void FakeApiServer::install_gateway_api() {
  for (const nlohmann::json& crd : gateway_api_crds()) apply(crd);
}

void FakeApiServer::uninstall_gateway_api() {
  for (const nlohmann::json& crd : gateway_api_crds()) remove_object(crd);
}

// ---- fault injection ----

nlohmann::json FakeApiServer::fake_call(const std::string& method, const std::string& target) {
  ApiResponse response = request(method, target, "", "application/json", /*authenticated=*/false);
  if (response.status != 200) throw_api_error(method, target, response);
  return response.json();
}

void FakeApiServer::drop_watches() { fake_call("POST", "/fake/drop-watches"); }

void FakeApiServer::fail_requests(int code, std::chrono::seconds duration) {
  fake_call("POST", "/fake/errors?code=" + std::to_string(code) + "&seconds=" + std::to_string(duration.count()));
}

void FakeApiServer::stall(std::chrono::seconds duration) {
  fake_call("POST", "/fake/stall?seconds=" + std::to_string(duration.count()));
}

void FakeApiServer::compact() { fake_call("POST", "/fake/compact"); }

std::string FakeApiServer::rotate_token() { return fake_call("POST", "/fake/rotate-token").at("token"); }

nlohmann::json FakeApiServer::requests() { return fake_call("GET", "/fake/requests"); }

void FakeApiServer::reset_log() { fake_call("POST", "/fake/reset-log"); }

nlohmann::json FakeApiServer::watches() { return fake_call("GET", "/fake/watches"); }

nlohmann::json FakeApiServer::state() { return fake_call("GET", "/fake/state"); }

}  // namespace grpc_ingress::testing
