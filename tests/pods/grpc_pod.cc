// test-pod: a real gRPC C++ server standing in for one Kubernetes pod.
//
//   test-pod --listen 127.0.0.2:0 --pod greeter-0 [--exit-with-parent]
//            [--delay-ms N] [--reset-calls] [--max-connection-age-ms N]
//            [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
//
// Serves helloworld.Greeter, grpc_ingress.test.Echo and grpc.health.v1 over
// cleartext HTTP/2, or over TLS with --tls-cert/--tls-key (PEM files);
// --client-ca then requires a client certificate signed by that CA. When ready it prints one line, "LISTENING <ip>:<port>", on
// stdout (port 0 picks a free port). SIGTERM or SIGINT: shut down, exit 0.
// SIGUSR1: health NOT_SERVING; SIGUSR2: SERVING again (as a pod's readiness
// flips). --delay-ms slows every unary call (a slow pod); --reset-calls
// makes a broken pod instead of a gRPC server: it speaks just enough HTTP/2
// to answer every request with RST_STREAM(INTERNAL_ERROR), before any
// response header (gRPC C++ itself never resets a call); --max-connection-age-ms
// makes the server send GOAWAY on each connection after that age, as gRPC
// servers with MAX_CONNECTION_AGE do.

#include "grpc/examples/helloworld.grpc.pb.h"
#include "tests/proto/echo.grpc.pb.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace grpc_ingress::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxStreamCount = 100'000'000;
constexpr int kMaxPayloadBytes = 4 << 20;
constexpr int kMaxSleepMs = 600'000;
constexpr size_t kMaxTrackedCalls = 4096;
constexpr auto kSleepSlice = std::chrono::milliseconds(5);
constexpr auto kShutdownGrace = std::chrono::seconds(2);

// What the pod knows about one tagged call; read by the Stats RPC.
struct CallRecord {
  Clock::time_point start = Clock::now();
  std::atomic<int64_t> written{0};
  std::atomic<bool> finished{false};
  std::atomic<bool> cancelled{false};
  std::atomic<int64_t> elapsed_ms{-1};
};

// Tagged calls, bounded: the oldest-named entries go first when full.
class CallRegistry {
 public:
  std::shared_ptr<CallRecord> start(const std::string& tag) {
    calls_.fetch_add(1);
    auto record = std::make_shared<CallRecord>();
    if (tag.empty()) return record;
    std::lock_guard lock(mutex_);
    if (records_.size() >= kMaxTrackedCalls) records_.erase(records_.begin());
    records_[tag] = record;
    return record;
  }

  std::shared_ptr<CallRecord> find(const std::string& tag) {
    std::lock_guard lock(mutex_);
    auto it = records_.find(tag);
    return it == records_.end() ? nullptr : it->second;
  }

  int64_t calls() const { return calls_.load(); }

 private:
  std::atomic<int64_t> calls_{0};
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<CallRecord>> records_;
};

// Marks the record finished when the handler returns, however it returns.
class FinishOnExit {
 public:
  explicit FinishOnExit(std::shared_ptr<CallRecord> record) : record_(std::move(record)) {}
  ~FinishOnExit() {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - record_->start);
    record_->elapsed_ms = elapsed.count();
    record_->finished = true;
  }
  FinishOnExit(const FinishOnExit&) = delete;
  FinishOnExit& operator=(const FinishOnExit&) = delete;

 private:
  std::shared_ptr<CallRecord> record_;
};

// How this pod misbehaves on every unary call, from its command line.
struct Behaviour {
  int delay_ms = 0;
  bool reset_calls = false;  // not a gRPC server at all: see run_resetting_pod
};

// Sleeps `ms` in short slices; false as soon as the call is cancelled.
bool sleep_unless_cancelled(grpc::ServerContext* context, int ms) {
  auto until = Clock::now() + std::chrono::milliseconds(std::min(ms, kMaxSleepMs));
  while (Clock::now() < until) {
    if (context->IsCancelled()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(kSleepSlice, until - Clock::now()));
  }
  return !context->IsCancelled();
}

void add_trailers(grpc::ServerContext* context, const test::EchoRequest& request) {
  for (const auto& [key, value] : request.trailers()) context->AddTrailingMetadata(key, value);
}

// Copies the request metadata the request names into the reply, so a test can
// see what reached the pod (e.g. the x-request-id a proxy added).
void echo_metadata(grpc::ServerContext* context, const test::EchoRequest& request, test::EchoReply& reply) {
  // A name sent several times comes back as "v1, v2" (as HTTP joins headers).
  const auto& received = context->client_metadata();
  for (const std::string& name : request.echo_metadata()) {
    auto [first, last] = received.equal_range(name);
    if (first == last) continue;
    std::string values;
    for (auto it = first; it != last; ++it) {
      if (!values.empty()) values += ", ";
      values.append(it->second.data(), it->second.size());
    }
    (*reply.mutable_metadata())[name] = values;
  }
}

// Applies the pod's Behaviour (a delay); false when the call was cancelled meanwhile.
bool misbehave(grpc::ServerContext* context, const Behaviour& behaviour) {
  return behaviour.delay_ms <= 0 || sleep_unless_cancelled(context, behaviour.delay_ms);
}

// The status the request asks for: its fail_code, or OK.
grpc::Status requested_status(const test::EchoRequest& request) {
  if (request.fail_code() == 0) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(request.fail_code()), request.fail_message());
}

class GreeterService final : public helloworld::Greeter::Service {
 public:
  GreeterService(std::string pod, CallRegistry& registry, const Behaviour& behaviour)
      : pod_(std::move(pod)), registry_(registry), behaviour_(behaviour) {}

  grpc::Status SayHello(grpc::ServerContext* context, const helloworld::HelloRequest* request,
                        helloworld::HelloReply* reply) override {
    registry_.start("");
    if (!misbehave(context, behaviour_)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while delayed");
    reply->set_message("Hello " + request->name() + " from " + pod_);
    return grpc::Status::OK;
  }

 private:
  std::string pod_;
  CallRegistry& registry_;
  const Behaviour& behaviour_;
};

class EchoService final : public test::Echo::Service {
 public:
  EchoService(std::string pod, CallRegistry& registry, const Behaviour& behaviour)
      : pod_(std::move(pod)), registry_(registry), behaviour_(behaviour) {}

  grpc::Status Unary(grpc::ServerContext* context, const test::EchoRequest* request,
                     test::EchoReply* reply) override {
    auto record = registry_.start(request->tag());
    FinishOnExit finish(record);
    if (!misbehave(context, behaviour_)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while delayed");
    if (!sleep_unless_cancelled(context, request->sleep_ms())) {
      record->cancelled = true;
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
    }
    add_trailers(context, *request);
    echo_metadata(context, *request, *reply);
    reply->set_pod(pod_);
    reply->set_peer(context->peer());
    reply->set_message(request->message());
    reply->set_payload(request->payload());
    return requested_status(*request);
  }

  grpc::Status ServerStream(grpc::ServerContext* context, const test::EchoRequest* request,
                            grpc::ServerWriter<test::EchoReply>* writer) override {
    auto record = registry_.start(request->tag());
    FinishOnExit finish(record);
    if (!sleep_unless_cancelled(context, request->sleep_ms())) {
      record->cancelled = true;
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
    }
    const int count = std::clamp(request->count(), 0, kMaxStreamCount);
    const std::string payload(static_cast<size_t>(std::clamp(request->payload_bytes(), 0, kMaxPayloadBytes)), 'x');
    test::EchoReply reply;
    reply.set_pod(pod_);
    reply.set_message(request->message());
    reply.set_payload(payload);
    echo_metadata(context, *request, reply);
    for (int i = 0; i < count; ++i) {
      reply.set_sequence(i);
      if (context->IsCancelled() || !writer->Write(reply)) {
        record->cancelled = true;
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
      record->written.fetch_add(1);
      if (request->interval_ms() > 0 && !sleep_unless_cancelled(context, request->interval_ms())) {
        record->cancelled = true;
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
    }
    add_trailers(context, *request);
    return requested_status(*request);
  }

  grpc::Status ClientStream(grpc::ServerContext* context, grpc::ServerReader<test::EchoRequest>* reader,
                            test::EchoReply* reply) override {
    auto record = registry_.start("");
    FinishOnExit finish(record);
    test::EchoRequest request;
    int64_t count = 0;
    int64_t bytes = 0;
    grpc::Status status = grpc::Status::OK;
    while (reader->Read(&request)) {
      if (count == 0) {
        add_trailers(context, request);
        status = requested_status(request);
      }
      ++count;
      bytes += static_cast<int64_t>(request.payload().size());
    }
    reply->set_pod(pod_);
    reply->set_count(count);
    reply->set_bytes(bytes);
    return status;
  }

  grpc::Status Bidi(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<test::EchoReply, test::EchoRequest>* stream) override {
    auto record = registry_.start("");
    FinishOnExit finish(record);
    test::EchoRequest request;
    test::EchoReply reply;
    reply.set_pod(pod_);
    int64_t sequence = 0;
    grpc::Status status = grpc::Status::OK;
    while (stream->Read(&request)) {
      if (sequence == 0) {
        add_trailers(context, request);
        status = requested_status(request);
      }
      reply.set_sequence(sequence++);
      reply.set_message(request.message());
      reply.set_payload(request.payload());
      if (!stream->Write(reply)) {
        record->cancelled = true;
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
      record->written.fetch_add(1);
    }
    return status;
  }

  grpc::Status Stats(grpc::ServerContext*, const test::StatsRequest* request,
                     test::StatsReply* reply) override {
    reply->set_pod(pod_);
    reply->set_calls(registry_.calls());
    auto record = registry_.find(request->tag());
    if (!record) return grpc::Status::OK;
    reply->set_known(true);
    reply->set_written(record->written.load());
    reply->set_finished(record->finished.load());
    reply->set_cancelled(record->cancelled.load());
    int64_t elapsed = record->elapsed_ms.load();
    if (elapsed < 0) {
      elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - record->start).count();
    }
    reply->set_elapsed_ms(elapsed);
    return grpc::Status::OK;
  }

 private:
  std::string pod_;
  CallRegistry& registry_;
  const Behaviour& behaviour_;
};

struct Options {
  std::string listen;
  std::string pod;
  bool exit_with_parent = false;
  Behaviour behaviour;
  int max_connection_age_ms = 0;
  std::string tls_cert, tls_key, client_ca;  // PEM files
};

const char* const kUsage =
    "usage: test-pod --listen IP:PORT --pod NAME [--exit-with-parent] [--delay-ms N] [--reset-calls]\n"
    "                [--max-connection-age-ms N] [--tls-cert FILE --tls-key FILE [--client-ca FILE]]\n"
    "  Serves helloworld.Greeter, grpc_ingress.test.Echo and grpc.health.v1, cleartext or TLS.\n"
    "  Port 0 picks a free port. Prints 'LISTENING <ip>:<port>' when ready.\n";

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--exit-with-parent") {
      options.exit_with_parent = true;
    } else if (arg == "--reset-calls") {
      options.behaviour.reset_calls = true;
    } else if ((arg == "--delay-ms" || arg == "--max-connection-age-ms") && i + 1 < argc) {
      int value = std::atoi(argv[++i]);
      if (value < 0) return false;
      (arg == "--delay-ms" ? options.behaviour.delay_ms : options.max_connection_age_ms) = value;
    } else if ((arg == "--listen" || arg == "--pod") && i + 1 < argc) {
      (arg == "--listen" ? options.listen : options.pod) = argv[++i];
    } else if (arg == "--tls-cert" && i + 1 < argc) {
      options.tls_cert = argv[++i];
    } else if (arg == "--tls-key" && i + 1 < argc) {
      options.tls_key = argv[++i];
    } else if (arg == "--client-ca" && i + 1 < argc) {
      options.client_ca = argv[++i];
    } else {
      return false;
    }
  }
  bool tls = !options.tls_cert.empty();
  if (tls != !options.tls_key.empty() || (!options.client_ca.empty() && !tls)) return false;
  if (tls && options.behaviour.reset_calls) return false;  // the resetting pod speaks only h2c
  return !options.listen.empty() && !options.pod.empty();
}

// The whole file, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Insecure, or TLS from --tls-cert/--tls-key (and --client-ca: mTLS required).
std::shared_ptr<grpc::ServerCredentials> server_credentials(const Options& options) {
  if (options.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = read_file(options.tls_cert), key = read_file(options.tls_key);
  std::optional<std::string> client_ca = options.client_ca.empty() ? std::optional<std::string>("")
                                                                    : read_file(options.client_ca);
  if (!cert || !key || !client_ca || cert->empty() || key->empty()) return nullptr;
  grpc::SslServerCredentialsOptions ssl(options.client_ca.empty()
                                            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *client_ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

// "127.0.0.2:0" -> "127.0.0.2", "[::1]:0" -> "[::1]".
std::string host_part(const std::string& listen) {
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

// --reset-calls: one thread per connection; reads HTTP/2 frames and answers
// SETTINGS with an ACK and every HEADERS frame (a new request) with
// RST_STREAM(INTERNAL_ERROR). Blocking I/O is fine for a test double.
void serve_resetting_connection(int fd) {
  auto read_exact = [fd](uint8_t* out, size_t n) {
    for (size_t got = 0; got < n;) {
      ssize_t r = ::read(fd, out + got, n - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  };
  auto write_all = [fd](const std::vector<uint8_t>& bytes) {
    return ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  };
  uint8_t preface[24];
  if (read_exact(preface, sizeof(preface)) && write_all({0, 0, 0, 4, 0, 0, 0, 0, 0})) {  // empty SETTINGS
    std::vector<uint8_t> payload;
    for (;;) {
      uint8_t header[9];
      if (!read_exact(header, sizeof(header))) break;
      size_t length = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
      uint8_t type = header[3], flags = header[4];
      uint32_t stream = ((uint32_t{header[5]} & 0x7f) << 24) | (uint32_t{header[6]} << 16) |
                        (uint32_t{header[7]} << 8) | header[8];
      payload.resize(length);
      if (length && !read_exact(payload.data(), length)) break;
      bool ok = true;
      if (type == 4 && !(flags & 1)) ok = write_all({0, 0, 0, 4, 1, 0, 0, 0, 0});  // SETTINGS ACK
      if (type == 1) {  // HEADERS: reset the stream, error 2 (INTERNAL_ERROR)
        ok = write_all({0, 0, 4, 3, 0, static_cast<uint8_t>(stream >> 24), static_cast<uint8_t>(stream >> 16),
                        static_cast<uint8_t>(stream >> 8), static_cast<uint8_t>(stream), 0, 0, 0, 2});
      }
      if (type == 6 && !(flags & 1)) {  // PING: answer it, or the proxy thinks the pod is dead
        std::vector<uint8_t> pong = {0, 0, 8, 6, 1, 0, 0, 0, 0};
        pong.insert(pong.end(), payload.begin(), payload.end());
        ok = write_all(pong);
      }
      if (!ok) break;
    }
  }
  ::close(fd);
}

int run_resetting_pod(const Options& options) {
  if (options.exit_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::string host = host_part(options.listen);
  int port = std::atoi(options.listen.substr(options.listen.rfind(':') + 1).c_str());
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t size = sizeof(address);
  if (listener < 0 || ::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(listener, 64) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    std::cerr << "test-pod " << options.pod << ": cannot listen on " << options.listen << "\n";
    return 1;
  }
  std::printf("LISTENING %s:%d\n", host.c_str(), ntohs(address.sin_port));
  std::fflush(stdout);
  for (;;) {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread(serve_resetting_connection, fd).detach();
  }
}

int run(const Options& options) {
  if (options.behaviour.reset_calls) return run_resetting_pod(options);
  // Signals are taken by sigwait() below; block them before gRPC starts threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (options.exit_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);

  CallRegistry registry;
  GreeterService greeter(options.pod, registry, options.behaviour);
  EchoService echo(options.pod, registry, options.behaviour);
  grpc::EnableDefaultHealthCheckService(true);

  auto credentials = server_credentials(options);
  if (!credentials) {
    std::cerr << "test-pod " << options.pod << ": cannot read --tls-cert, --tls-key or --client-ca\n";
    return 1;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, credentials, &port);
  // A second pod on the same address must fail, not share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_connection_age_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, options.max_connection_age_ms);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 10000);
  }
  builder.RegisterService(&greeter);
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "test-pod " << options.pod << ": cannot listen on " << options.listen << "\n";
    return 1;
  }
  std::printf("LISTENING %s:%d\n", host_part(options.listen).c_str(), port);
  std::fflush(stdout);

  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGUSR1 && signal != SIGUSR2) break;
    bool serving = signal == SIGUSR2;
    server->GetHealthCheckService()->SetServingStatus(serving);
    std::cerr << "test-pod " << options.pod << ": health " << (serving ? "SERVING" : "NOT_SERVING") << "\n";
  }
  std::cerr << "test-pod " << options.pod << ": signal " << signal << ", shutting down\n";
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace grpc_ingress::testing

int main(int argc, char** argv) {
  grpc_ingress::testing::Options options;
  if (!grpc_ingress::testing::parse_options(argc, argv, options)) {
    std::cerr << grpc_ingress::testing::kUsage;
    return 2;
  }
  return grpc_ingress::testing::run(options);
}
