// http-pod: a plain HTTP server standing in for a pod that is not a gRPC
// server, so tests can see what a proxied request looked like when it reached
// the pod, and over which protocol.
//
//   http-pod --listen 127.0.0.2:0 --pod web-0 [--exit-with-parent]
//            [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
//
// One port serves HTTP/2 and HTTP/1.1. Cleartext: the HTTP/2 preface
// ("PRI * HTTP/2.0...") means h2c with prior knowledge, anything else HTTP/1.1
// (keep-alive, one request at a time). With --tls-cert/--tls-key: TLS only,
// ALPN h2 or http/1.1 (h2 preferred); ALPN h2 means HTTP/2, anything else
// (http/1.1 or no ALPN) HTTP/1.1. --client-ca requires a client certificate
// signed by that CA.
//
// Prints "LISTENING <ip>:<port>" when ready. Every request is read whole,
// then answered (query parameters choose the answer):
//   default        200, application/json: {"pod", "method", "scheme", "authority",
//                  "path", "headers": {name: [values]}, "body_bytes", "body_fnv1a",
//                  "protocol" ("HTTP/1.1", "HTTP/1.0" or "HTTP/2"), "tls",
//                  "connection" (per-process connection number, from 1),
//                  "request_on_connection" (1, 2, ...),
//                  "overlapped" (HTTP/1.1: bytes of a next request arrived before
//                  this answer was written, i.e. the client pipelined)}
//                  Request trailers appear in "headers" as "trailer:<name>";
//                  over HTTP/1.1 the Host header is "authority".
//   ?echo          the request body back, with content-length
//   ?chunks=N&chunk_bytes=M   N pieces of M bytes ('a'..'z'), no content-length:
//                  one DATA frame each (HTTP/2) or one chunk each (HTTP/1.1)
//   ?trailers      add the trailer "x-pod-trailer: <pod>" (HTTP/1.1: chunked)
//   ?status=NNN    answer with that status
//   ?delay_ms=N    answer N ms after the request is complete
// SIGTERM or SIGINT: exit 0.

#include "tests/pods/http_pod_answer.h"
#include "tests/pods/http_pod_sessions.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <openssl/ssl.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace grpc_ingress::testing::http_pod {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr unsigned kMaxThreads = 4;

std::atomic<uint64_t> g_connections{0};

struct Options {
  std::string listen;
  std::string pod;
  bool exit_with_parent = false;
  std::string tls_cert, tls_key, client_ca;
};

const char* const kUsage =
    "usage: http-pod --listen IP:PORT --pod NAME [--exit-with-parent]\n"
    "                [--tls-cert FILE --tls-key FILE [--client-ca FILE]]\n";

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--exit-with-parent") options.exit_with_parent = true;
    else if (arg == "--listen" && has_value) options.listen = argv[++i];
    else if (arg == "--pod" && has_value) options.pod = argv[++i];
    else if (arg == "--tls-cert" && has_value) options.tls_cert = argv[++i];
    else if (arg == "--tls-key" && has_value) options.tls_key = argv[++i];
    else if (arg == "--client-ca" && has_value) options.client_ca = argv[++i];
    else return false;
  }
  if (options.listen.find(':') == std::string::npos || options.pod.empty()) return false;
  if (options.tls_cert.empty() != options.tls_key.empty()) return false;
  return options.client_ca.empty() || !options.tls_cert.empty();
}

// ALPN: h2 if the client offers it, else http/1.1, else no ALPN (HTTP/1.1).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                unsigned int offered_size, void*) {
  static const unsigned char kOurs[] = "\x02h2\x08http/1.1";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, kOurs, sizeof(kOurs) - 1, offered, offered_size) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Throws boost::system::system_error naming the file that does not load.
std::unique_ptr<ssl::context> make_tls_context(const Options& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->use_certificate_chain_file(options.tls_cert);
  context->use_private_key_file(options.tls_key, ssl::context::pem);
  SSL_CTX_set_alpn_select_cb(context->native_handle(), select_alpn, nullptr);
  if (!options.client_ca.empty()) {
    context->load_verify_file(options.client_ca);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // Tell clients which CA we accept (some pick their certificate by it).
    SSL_CTX_set_client_CA_list(context->native_handle(), SSL_load_client_CA_file(options.client_ca.c_str()));
  }
  return context;
}

// Cleartext: reads until the bytes match the HTTP/2 preface or cannot.
class PrefaceSniffer : public std::enable_shared_from_this<PrefaceSniffer> {
 public:
  PrefaceSniffer(TcpStream socket, uint64_t connection) : socket_(std::move(socket)), connection_(connection) {}

  void read() {
    socket_.async_read_some(net::buffer(chunk_), [self = shared_from_this()](error_code ec, size_t size) {
      if (ec) return;  // closed before a request: nothing to serve
      self->received_.append(self->chunk_.data(), size);
      size_t compared = std::min(self->received_.size(), kH2Preface.size());
      if (std::string_view(self->received_).substr(0, compared) != kH2Preface.substr(0, compared)) {
        return serve_h1(std::move(self->socket_), self->connection_, std::move(self->received_));
      }
      if (compared == kH2Preface.size()) {
        return serve_h2(std::move(self->socket_), self->connection_, std::move(self->received_));
      }
      self->read();
    });
  }

 private:
  TcpStream socket_;
  const uint64_t connection_;
  std::array<char, 64> chunk_;
  std::string received_;
};

// TLS: the handshake's ALPN decides.
class TlsAcceptor : public std::enable_shared_from_this<TlsAcceptor> {
 public:
  TlsAcceptor(TcpStream socket, ssl::context& context, uint64_t connection)
      : stream_(std::move(socket), context), connection_(connection) {}

  void handshake() {
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (ec) {
        std::cerr << "http-pod " << pod_name() << ": C" << self->connection_ << " TLS handshake failed: " << ec.message()
                  << "\n";
        return;
      }
      const unsigned char* alpn = nullptr;
      unsigned int alpn_size = 0;
      SSL_get0_alpn_selected(self->stream_.native_handle(), &alpn, &alpn_size);
      bool h2 = std::string_view(reinterpret_cast<const char*>(alpn), alpn ? alpn_size : 0) == "h2";
      if (h2) return serve_h2(std::move(self->stream_), self->connection_, "");
      serve_h1(std::move(self->stream_), self->connection_, "");
    });
  }

 private:
  TlsStream stream_;
  const uint64_t connection_;
};

void accept(tcp::acceptor& acceptor, net::io_context& io, ssl::context* tls) {
  acceptor.async_accept(net::make_strand(io), [&acceptor, &io, tls](error_code ec, tcp::socket socket) {
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      uint64_t connection = ++g_connections;
      if (tls) std::make_shared<TlsAcceptor>(std::move(socket), *tls, connection)->handshake();
      else std::make_shared<PrefaceSniffer>(std::move(socket), connection)->read();
    }
    accept(acceptor, io, tls);
  });
}

int run(const Options& options) {
  set_pod_name(options.pod);
  if (options.exit_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::signal(SIGTERM, [](int) { _exit(0); });
  std::signal(SIGINT, [](int) { _exit(0); });
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<ssl::context> tls;
  try {
    if (!options.tls_cert.empty()) tls = make_tls_context(options);
  } catch (const boost::system::system_error& e) {
    std::cerr << "http-pod: cannot load --tls-cert/--tls-key/--client-ca: " << e.what() << "\n";
    return 1;
  }

  net::io_context io;
  tcp::acceptor acceptor(io);
  auto colon = options.listen.rfind(':');
  std::string host = options.listen.substr(0, colon);
  error_code ec;
  auto address = net::ip::make_address(host, ec);
  int port = std::atoi(options.listen.substr(colon + 1).c_str());
  if (!ec && (port < 0 || port > 65535)) ec = net::error::invalid_argument;
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  if (!ec) acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "http-pod: cannot listen on " << options.listen << ": " << ec.message() << "\n";
    return 1;
  }
  std::cout << "LISTENING " << host << ":" << acceptor.local_endpoint().port() << std::endl;

  accept(acceptor, io, tls.get());
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 2u, kMaxThreads);
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& worker : workers) worker.join();
  return 0;
}

}  // namespace
}  // namespace grpc_ingress::testing::http_pod

int main(int argc, char** argv) {
  grpc_ingress::testing::http_pod::Options options;
  if (!grpc_ingress::testing::http_pod::parse_options(argc, argv, options)) {
    std::cerr << grpc_ingress::testing::http_pod::kUsage;
    return 2;
  }
  return grpc_ingress::testing::http_pod::run(options);
}
