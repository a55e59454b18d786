// The HTTP/2 server session (our callbacks behind nghttp2), driven for real:
// a Worker whose io_context this thread runs, a loopback TCP connection
// handed to it as the acceptor would, and the fuzz input written by the
// client side, in pieces. The routing table sends requests nowhere useful
// (no endpoints, or a port where nothing listens) so every request is
// answered by the proxy itself, through the same stream paths.
//   byte 0: bits 0-2 zero = no HTTP/2 preface added (the protocol detector
//   and the HTTP/1.1 session see the bytes as they are); bits 3-7 = write
//   size in 16-byte units (0: one write). The rest is what the client sends.

#include "common/route_table.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/upstream/upstream_connection.h"
#include "dataplane/worker.h"
#include "tests/fuzz/fuzz_input.h"

#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

using namespace grpc_ingress;
using boost::asio::ip::tcp;

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr int kMaxQuietTurns = 256;   // io_context polls per step until nothing runs
constexpr int kMaxCloseTurns = 1024;  // polls for the session to go after the client does
constexpr int kMaxWrites = 256;

DownstreamOptions downstream_options() {
  DownstreamOptions options;
  // Small, so an input of a few KiB reaches the limits and flow control.
  options.max_concurrent_streams = 16;
  options.stream_window = 4096;
  options.connection_window = 16384;
  options.max_header_bytes = 4096;
  options.http1_max_body_bytes = 8192;
  return options;
}

// Requests are routed by host and path to: a cluster without endpoints
// (UNAVAILABLE), a pod port where nothing listens (connect failure, retries),
// the HTTP health bridge; anything else has no route (UNIMPLEMENTED / 404).
std::shared_ptr<const RouteTable> make_table(uint16_t dead_port) {
  auto table = std::make_shared<RouteTable>();
  table->version = 1;
  Cluster empty{.name = "default/greeter:50051", .service_namespace = "default", .service = "greeter",
                .port = "50051"};
  Cluster dead{.name = "default/dead:80", .service_namespace = "default", .service = "dead", .port = "80"};
  dead.endpoints.push_back({.ip = IpAddress::from("127.0.0.1"), .port = dead_port, .pod = "dead-0"});
  Cluster dead_h1 = dead;
  dead_h1.name = "default/dead-h1:80";
  dead_h1.service = "dead-h1";
  dead_h1.protocol = UpstreamProtocol::kHttp1;
  table->clusters = {std::make_shared<const Cluster>(empty), std::make_shared<const Cluster>(dead),
                     std::make_shared<const Cluster>(dead_h1)};

  Route greeter{.path = "/helloworld.Greeter", .cluster = 0, .ingress_namespace = "default",
                .ingress_name = "greeter"};
  greeter.max_timeout = std::chrono::milliseconds(1000);
  greeter.max_message_bytes = 64;
  greeter.cors_allow_origin = "*";
  greeter.canary = Canary{.cluster = 1, .header = "x-canary"};
  Route health{.path_type = PathType::kExact, .path = "/healthz", .cluster = 0, .ingress_namespace = "default",
               .ingress_name = "greeter"};
  health.health_bridge = true;
  health.health_of_clusters = {0};
  Route echo{.path = "/echo", .cluster = 1, .ingress_namespace = "default", .ingress_name = "echo"};
  table->any_host = std::make_shared<const VirtualHost>(VirtualHost{.routes = {greeter, health, echo}});

  Route web{.path = "/", .cluster = 2, .ingress_namespace = "default", .ingress_name = "web"};
  table->exact_hosts["web.example"] = std::make_shared<const VirtualHost>(VirtualHost{.host = "web.example", .routes = {web}});
  table->wildcard_hosts["*.example"] = std::make_shared<const VirtualHost>(VirtualHost{.host = "*.example", .routes = {echo}});
  return table;
}

// One worker for the whole run, never started: this thread runs its loop.
struct Harness {
  EndpointStates states;
  Worker worker{1, downstream_options(), UpstreamOptions{}, states};
  tcp::acceptor acceptor{worker.io(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
  // Bound and never listening: connects to its port are refused.
  tcp::socket dead_port{worker.io(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};

  Harness() { worker.apply_table(make_table(dead_port.local_endpoint().port())); }
};

Harness& harness() {
  // Never destroyed: the worker's loop may hold handlers until exit.
  static Harness* instance = new Harness;
  return *instance;
}

[[noreturn]] void fail(const char* what, const boost::system::error_code& ec) {
  std::fprintf(stderr, "h2_session_fuzz: loopback %s failed: %s\n", what, ec.message().c_str());
  std::abort();
}

// A client connection to the acceptor, from 127.0.0.2 to 127.0.0.254 in
// turn: the proxy's end of a connection it closed first waits out TIME_WAIT,
// and from one address, over a long run, new connections would land on them.
tcp::socket connect_client(Harness& h) {
  static uint32_t turn = 0;
  boost::system::error_code ec;
  for (int attempt = 0; attempt < 3; ++attempt) {
    tcp::socket client(h.worker.io());
    auto from = boost::asio::ip::address_v4(0x7f000002 + turn++ % 253);
    client.open(tcp::v4(), ec);
    if (!ec) client.bind(tcp::endpoint(from, 0), ec);
    if (!ec) client.connect(h.acceptor.local_endpoint(), ec);
    if (!ec) return client;
  }
  fail("connect", ec);
}

// Reads and drops what the proxy sent; true if there was anything.
bool drain(tcp::socket& client) {
  static std::array<char, 64 * 1024> sink;
  bool any = false;
  for (;;) {
    boost::system::error_code ec;
    size_t n = client.read_some(boost::asio::buffer(sink), ec);
    if (ec || n == 0) return any;
    any = true;
  }
}

// Runs the worker until nothing is left to do now (timers in the future wait).
void run_until_quiet(boost::asio::io_context& io, tcp::socket& client) {
  for (int turn = 0; turn < kMaxQuietTurns; ++turn) {
    size_t ran = io.poll();
    if (!drain(client) && ran == 0) return;
  }
}

void send(boost::asio::io_context& io, tcp::socket& client, std::string_view bytes) {
  for (int turn = 0; turn < kMaxQuietTurns && !bytes.empty(); ++turn) {
    boost::system::error_code ec;
    size_t n = client.write_some(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec && ec != boost::asio::error::would_block) return;  // the proxy closed on us
    bytes.remove_prefix(n);
    run_until_quiet(io, client);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  Harness& h = harness();
  boost::asio::io_context& io = h.worker.io();
  fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.byte();
  std::string wire = mode % 8 ? std::string(kPreface) : std::string();
  wire += input.rest();
  const size_t piece = (mode >> 3) ? static_cast<size_t>(mode >> 3) * 16 : wire.size();

  tcp::socket client = connect_client(h);
  boost::system::error_code ec;
  tcp::socket server(io);
  h.acceptor.accept(server, ec);
  if (ec) fail("accept", ec);
  client.non_blocking(true);
  h.worker.adopt(std::move(server));

  std::string_view rest = wire;
  for (int writes = 0; writes < kMaxWrites && !rest.empty(); ++writes) {
    size_t n = writes + 1 == kMaxWrites ? rest.size() : std::min(piece, rest.size());
    send(io, client, rest.substr(0, n));
    rest.remove_prefix(n);
  }
  run_until_quiet(io, client);

  // The client says it is done sending, then drops the connection (RST, so
  // no TIME_WAIT piles up over millions of runs).
  client.shutdown(tcp::socket::shutdown_send, ec);
  run_until_quiet(io, client);
  client.set_option(boost::asio::socket_base::linger(true, 0), ec);
  client.close(ec);
  for (int turn = 0; turn < kMaxCloseTurns && h.worker.connection_count() > 0; ++turn) io.poll();
  return 0;
}
