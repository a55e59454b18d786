#pragma once

// gRPC C++ client helpers for the integration tests.

#include "grpc/examples/helloworld.grpc.pb.h"
#include "tests/proto/echo.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace grpc_ingress::testing {

// One channel = one HTTP/2 connection to `target` (cleartext). `authority`
// overrides the :authority the channel sends.
std::shared_ptr<grpc::Channel> make_channel(const std::string& target, const std::string& authority = "");

// One channel over TLS to `target` that asks for `host` (SNI and :authority)
// and trusts only `root_pem`: the call fails unless the proxy presents a
// certificate for `host` that `root_pem` signed.
std::shared_ptr<grpc::Channel> make_tls_channel(const std::string& target, const std::string& host,
                                                const std::string& root_pem);
// The same, presenting a client certificate (PEM chain and key) when the
// proxy asks for one (auth-tls-secret).
std::shared_ptr<grpc::Channel> make_tls_channel(const std::string& target, const std::string& host,
                                                const std::string& root_pem, const std::string& cert_chain_pem,
                                                const std::string& key_pem);

struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;  // grpc-message
  std::string pod;      // who answered, when OK
  std::chrono::milliseconds elapsed{0};
  std::multimap<std::string, std::string> trailers;

  bool ok() const { return code == grpc::StatusCode::OK; }
};

// "Hello <name> from <pod>" -> "<pod>".
std::string pod_of_greeting(const std::string& message);

CallResult say_hello(helloworld::Greeter::Stub& stub, std::chrono::milliseconds deadline = std::chrono::seconds(2));
CallResult echo_unary(test::Echo::Stub& stub, const test::EchoRequest& request,
                      std::chrono::milliseconds deadline = std::chrono::seconds(2));

// Asks a pod directly (not through the proxy) what it knows about call `tag`.
test::StatsReply pod_stats(const std::string& pod_address, const std::string& tag);

// Name of a status code, for messages: "UNAVAILABLE (14)".
std::string code_name(grpc::StatusCode code);

}  // namespace grpc_ingress::testing
