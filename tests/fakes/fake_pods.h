#pragma once

// Pods and clients for unit tests of the router and the codecs, without
// sockets. A FakePod is an UpstreamConnection that records the attempts given
// to it and answers, refuses, resets or closes when a test says so, the way
// the HTTP/2 and HTTP/1.1 connections report to the router; a FakeClient is
// the client's side of a stream and records what it was told.

#include "dataplane/upstream/upstream_pool.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

class FakePod : public UpstreamConnection {
 public:
  FakePod(boost::asio::io_context& io, const Endpoint& endpoint, UpstreamHandlers handlers)
      : UpstreamConnection(io, endpoint, UpstreamOptions{}, std::nullopt, "F", std::move(handlers),
                           [](UpstreamConnection*) {}, nullptr) {}

  bool accepting_streams() const override { return !closed_; }
  void drain() override {}
  // Like a connection that drops: every attempt it holds fails.
  void close(const std::string& reason) override {
    closed_ = true;
    auto held = std::move(streams);
    streams.clear();
    for (ProxyStream* stream : held) fail_stream(*stream, reason, UpstreamFailure::kReset);
  }
  void response_body_consumed(ProxyStream&, size_t bytes) override { consumed += bytes; }
  void request_data_ready(ProxyStream& stream) override {
    uint8_t chunk[4096];
    while (size_t n = stream.request_body.read(chunk, sizeof(chunk))) {
      stream.record_sent(chunk, n);  // as a codec does: kept for a retry
      request_bytes += n;
      if (auto client = stream.downstream()) client->request_body_consumed(stream, stream.request_credit(n));
    }
  }
  void cancel(ProxyStream& stream) override {
    forget(stream);
    stream.detach_upstream();
    ++cancelled;
  }

  // An answer with `body` as its one message's bytes and `grpc_status` in its
  // trailers; then the pod's stream ends.
  void respond(ProxyStream& stream, std::string_view body, int grpc_status) {
    if (!start_response(stream)) return;
    send(stream, body);
    std::string status = std::to_string(grpc_status);
    stream.response.trailers = {{"grpc-status", status}};
    stream.trailers_into_body();
    stream.response.ended = true;
    if (auto client = stream.downstream()) client->response_data_ready(stream);
    forget(stream);
    stream.detach_upstream();
  }
  // Headers only, so body can follow with send().
  bool start_response(ProxyStream& stream) {
    stream.response.status = 200;
    stream.response.headers = {{"content-type", "application/grpc"}};
    return deliver_head(stream, false);
  }
  // More response body, as the pod's connection hands it over.
  void send(ProxyStream& stream, std::string_view bytes) {
    stream.take_response_body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (auto client = stream.downstream()) client->response_data_ready(stream);
  }

  // A trailers-only gRPC answer with `grpc_status`, then the pod's stream ends.
  void answer(ProxyStream& stream, int grpc_status) {
    stream.response.status = 200;
    std::string status = std::to_string(grpc_status);
    stream.response.headers = {{"content-type", "application/grpc"}, {"grpc-status", status}};
    if (!deliver_head(stream, true)) return;  // retried: the router cancelled this attempt
    forget(stream);
    stream.detach_upstream();
  }
  // REFUSED_STREAM: the pod never processed it.
  void refuse(ProxyStream& stream) {
    forget(stream);
    fail_stream(stream, "pod refused the stream", UpstreamFailure::kRefused);
  }
  // A reset before any answer: the pod may have seen it.
  void reset(ProxyStream& stream) {
    forget(stream);
    fail_stream(stream, "pod reset the stream", UpstreamFailure::kReset);
  }

  std::vector<ProxyStream*> streams;  // attempts running here
  int started = 0;
  int cancelled = 0;
  size_t consumed = 0;       // response bytes the client took
  size_t request_bytes = 0;  // request body bytes taken from the client

 protected:
  void on_connected(Transport) override {}
  void start(ProxyStream& stream) override {
    streams.push_back(&stream);
    ++started;
    request_data_ready(stream);
  }

 private:
  void forget(ProxyStream& stream) { std::erase(streams, &stream); }
  bool closed_ = false;
};

// The pods of the table, one connection each, handed to the router.
class FakePods : public ConnectionSource {
 public:
  explicit FakePods(boost::asio::io_context& io) : io_(io) {}

  Result<UpstreamConnection*> connection_for(const Endpoint& endpoint, const UpstreamKind&) override {
    auto& pod = pods_[endpoint.address()];
    if (!pod || !pod->accepting_streams()) pod = std::make_shared<FakePod>(io_, endpoint, handlers);
    return pod.get();
  }
  void forget_pods(const std::vector<PodAddress>& pods) override {
    for (const PodAddress& pod : pods) forgotten.push_back(pod.to_string());
  }

  FakePod& pod(const std::string& address) { return *pods_.at(address); }
  bool has(const std::string& address) const { return pods_.count(address) > 0; }
  // The pod running `stream`'s current attempt.
  FakePod* serving(const ProxyStream& stream) {
    for (auto& [_, pod] : pods_) {
      if (std::find(pod->streams.begin(), pod->streams.end(), &stream) != pod->streams.end()) return pod.get();
    }
    return nullptr;
  }
  int started() const {
    int n = 0;
    for (const auto& [_, pod] : pods_) n += pod->started;
    return n;
  }

  UpstreamHandlers handlers;
  std::vector<std::string> forgotten;  // every address forget_pods() was given, as "ip:port"

 private:
  boost::asio::io_context& io_;
  std::map<std::string, std::shared_ptr<FakePod>> pods_;
};

// The client's side: what it was answered.
class FakeClient : public DownstreamSide {
 public:
  void response_headers_ready(ProxyStream& stream) override {
    stream.response_started = true;
    answered = true;
    http_status = stream.response.status;
    for (const Header& header : stream.response.headers) {
      if (header.name == "grpc-status") grpc_status = std::stoi(std::string(header.value));
    }
  }
  // Takes the body while `reading` (giving the window back, as a client
  // that reads does), and the trailers at the end.
  void response_data_ready(ProxyStream& stream) override {
    if (reading) take(stream);
    if (!stream.response.ended || !stream.response.body.empty()) return;
    ended = true;
    for (const Header& header : stream.response.trailers) {
      if (header.name == "grpc-status") grpc_status = std::stoi(std::string(header.value));
    }
  }
  void take(ProxyStream& stream) {
    uint8_t chunk[16 * 1024];
    while (size_t n = stream.response.body.read(chunk, sizeof(chunk))) {
      body.append(reinterpret_cast<const char*>(chunk), n);
      if (UpstreamSide* upstream = stream.upstream()) upstream->response_body_consumed(stream, n);
    }
  }
  void request_body_consumed(ProxyStream&, size_t bytes) override { request_credit += bytes; }
  void reset(ProxyStream&, uint32_t code) override { reset_code = code; }

  bool reading = true;
  bool answered = false;  // the response head arrived
  bool ended = false;     // the whole response arrived
  int http_status = 0;
  int grpc_status = -1;
  std::string body;
  size_t request_credit = 0;  // request body bytes the pod side took
  std::optional<uint32_t> reset_code;
};

// Service greeter's port 50051 with `pods` pods at 10.0.0.1, .2, ...
inline Cluster cluster_of(int pods) {
  Cluster cluster;
  cluster.name = "default/greeter:50051";
  cluster.service_namespace = "default";
  cluster.service = "greeter";
  cluster.port = "50051";
  cluster.lb_policy = LoadBalancePolicy::kRoundRobin;
  cluster.protocol = UpstreamProtocol::kH2;
  for (int i = 0; i < pods; ++i) {
    cluster.endpoints.push_back({IpAddress::from("10.0.0." + std::to_string(i + 1)), 50051, "greeter-" + std::to_string(i), true});
  }
  return cluster;
}

// Host greeter.example.com routed to `cluster`.
inline std::shared_ptr<const RouteTable> table_of(Cluster cluster, RetryPolicy retry = {}) {
  auto table = std::make_shared<RouteTable>();
  table->clusters.push_back(std::make_shared<const Cluster>(std::move(cluster)));
  Route route;
  route.path = "/";
  route.cluster = 0;
  route.ingress_namespace = "default";
  route.ingress_name = "greeter";
  route.retry = retry;
  VirtualHost host;
  host.host = "greeter.example.com";
  host.routes.push_back(route);
  table->exact_hosts["greeter.example.com"] = std::make_shared<const VirtualHost>(std::move(host));
  return table;
}

}  // namespace grpc_ingress::testing
