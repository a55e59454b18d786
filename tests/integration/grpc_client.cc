#include "tests/integration/grpc_client.h"

#include <stdexcept>

namespace grpc_ingress::testing {
namespace {

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

std::multimap<std::string, std::string> trailers_of(const grpc::ClientContext& context) {
  std::multimap<std::string, std::string> out;
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    out.emplace(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  return out;
}

}  // namespace

std::shared_ptr<grpc::Channel> make_channel(const std::string& target, const std::string& authority) {
  grpc::ChannelArguments args;
  if (!authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
  // Channels with equal arguments may share one connection; keep ours apart.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> make_tls_channel(const std::string& target, const std::string& host,
                                                const std::string& root_pem) {
  return make_tls_channel(target, host, root_pem, "", "");
}

std::shared_ptr<grpc::Channel> make_tls_channel(const std::string& target, const std::string& host,
                                                const std::string& root_pem, const std::string& cert_chain_pem,
                                                const std::string& key_pem) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(host);  // SNI and the name the certificate must carry
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, host);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = root_pem;
  ssl.pem_cert_chain = cert_chain_pem;
  ssl.pem_private_key = key_pem;
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

std::string pod_of_greeting(const std::string& message) {
  auto from = message.rfind(" from ");
  return from == std::string::npos ? "" : message.substr(from + 6);
}

// Runs one unary call with a deadline; `pod_of(reply)` names who answered.
template <typename Reply, typename Call, typename PodOf>
CallResult timed_unary(std::chrono::milliseconds deadline, Call call, PodOf pod_of) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  Reply reply;
  auto start = std::chrono::steady_clock::now();
  grpc::Status status = call(&context, &reply);
  CallResult result;
  result.elapsed = since(start);
  result.code = status.error_code();
  result.message = status.error_message();
  if (status.ok()) result.pod = pod_of(reply);
  result.trailers = trailers_of(context);
  return result;
}

CallResult say_hello(helloworld::Greeter::Stub& stub, std::chrono::milliseconds deadline) {
  helloworld::HelloRequest request;
  request.set_name("test");
  return timed_unary<helloworld::HelloReply>(
      deadline, [&](grpc::ClientContext* context, helloworld::HelloReply* reply) {
        return stub.SayHello(context, request, reply);
      },
      [](const helloworld::HelloReply& reply) { return pod_of_greeting(reply.message()); });
}

CallResult echo_unary(test::Echo::Stub& stub, const test::EchoRequest& request, std::chrono::milliseconds deadline) {
  return timed_unary<test::EchoReply>(
      deadline, [&](grpc::ClientContext* context, test::EchoReply* reply) {
        return stub.Unary(context, request, reply);
      },
      [](const test::EchoReply& reply) { return reply.pod(); });
}

test::StatsReply pod_stats(const std::string& pod_address, const std::string& tag) {
  auto stub = test::Echo::NewStub(make_channel(pod_address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  test::StatsRequest request;
  request.set_tag(tag);
  test::StatsReply reply;
  grpc::Status status = stub->Stats(&context, request, &reply);
  if (!status.ok()) {
    throw std::runtime_error("Stats from pod " + pod_address + " failed: " + code_name(status.error_code()) + " " +
                             status.error_message());
  }
  return reply;
}

std::string code_name(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                       "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                       "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  int n = static_cast<int>(code);
  std::string name = n >= 0 && n <= 16 ? kNames[n] : "?";
  return name + " (" + std::to_string(n) + ")";
}

}  // namespace grpc_ingress::testing
