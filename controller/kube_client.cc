#include "controller/kube_client.h"

#include "controller/translate/k8s_names.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>

#include <array>
#include <deque>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

namespace grpc_ingress {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr size_t kMaxTokenBytes = 64 * 1024;
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;  // what we keep of a non-200 watch answer
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kWatchReadChunk = 64 * 1024;
// A watch connection whose peer vanished (node gone, NAT entry dropped) is
// noticed by TCP keepalive after about a minute instead of at the watch deadline.
constexpr int kKeepaliveIdleSeconds = 30;
constexpr int kKeepaliveIntervalSeconds = 10;
constexpr int kKeepaliveProbes = 3;

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  auto begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::string file_signature(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return "";
  return std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec) + ":" + std::to_string(info.st_ino);
}

std::string describe(const boost::system::error_code& error) {
  if (error == beast::error::timeout) return "timed out";
  return error.message();
}

}  // namespace

const nlohmann::json& json_member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string json_string_at(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = json_member(object, key);
  return value.is_string() ? value.get<std::string>() : "";
}

std::string status_message(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object()) {
    for (const char* key : {"message", "reason"}) {
      auto it = json.find(key);
      if (it != json.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        return it->get<std::string>();
      }
    }
  }
  constexpr size_t kMaxShown = 200;
  std::string shown = trim(body.substr(0, kMaxShown));
  return shown.empty() ? "(empty body)" : shown;
}

// ---- LineSplitter ----

Status LineSplitter::feed(std::string_view bytes, const std::function<void(std::string_view line)>& on_line) {
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline);
    if (partial_.size() + piece.size() > max_line_) {
      partial_.clear();
      return Error{"a watch event is longer than " + std::to_string(max_line_) + " bytes"};
    }
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return Ok{};
    }
    std::string_view line = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      line = partial_;
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.empty()) on_line(line);
    partial_.clear();
    bytes.remove_prefix(newline + 1);
  }
  return Ok{};
}

// ---- BearerToken ----

BearerToken::BearerToken(std::string token, std::filesystem::path file)
    : token_(std::move(token)), file_(std::move(file)) {}

const std::string& BearerToken::current() {
  if (!file_.empty()) {
    std::string signature = file_signature(file_);
    if (signature.empty() || signature != signature_) reload();
  }
  return token_;
}

void BearerToken::invalidate() { signature_.clear(); }

void BearerToken::reload() {
  std::string signature = file_signature(file_);
  std::ifstream in(file_, std::ios::binary);
  std::string text(kMaxTokenBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  text = trim(std::move(text));
  if (signature.empty() || text.empty() || text.size() > kMaxTokenBytes) {
    // Mid-rotation or gone: keep what worked; the next request tries again.
    spdlog::warn("kube: cannot read the token file {}; keeping the previous token", file_.string());
    return;
  }
  if (text != token_ && !token_.empty()) spdlog::info("kube: token file {} changed; using the new token", file_.string());
  token_ = std::move(text);
  signature_ = std::move(signature);
}

// ---- shared state, connections ----

class Connection;

struct KubeClient::Shared {
  struct Call {
    KubeRequest request;
    ResponseHandler done;
    Clock::time_point deadline;
    bool auth_retried = false;
    bool reuse_retried = false;
  };

  Shared(asio::io_context& io, const KubeConfig& config, const KubeClientOptions& options)
      : io(io), config(config), options(options), tls(ssl::context::tls_client), token(config.token, config.token_file) {
    bool ipv6 = config.host.find(':') != std::string::npos;
    host_header = (ipv6 ? "[" + config.host + "]" : config.host) + ":" + std::to_string(config.port);
  }

  void count(const std::string& method, int status) {
    ++requests_total[{method, status ? std::to_string(status) : "error"}];
  }

  http::request<http::string_body> build(const KubeRequest& request) {
    http::request<http::string_body> out{http::string_to_verb(request.method), config.path_prefix + request.target, 11};
    out.set(http::field::host, host_header);
    out.set(http::field::user_agent, options.user_agent);
    out.set(http::field::accept, "application/json");
    const std::string& bearer = token.current();
    if (!bearer.empty()) out.set(http::field::authorization, "Bearer " + bearer);
    if (!request.body.empty()) {
      out.set(http::field::content_type, request.content_type);
      out.body() = request.body;
    }
    out.keep_alive(true);
    out.prepare_payload();
    return out;
  }

  std::shared_ptr<Connection> take_idle();
  void give_back(std::shared_ptr<Connection> connection);

  asio::io_context& io;
  const KubeConfig config;
  const KubeClientOptions options;
  ssl::context tls;
  BearerToken token;
  std::string host_header;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_total;

  std::vector<std::shared_ptr<Connection>> idle;
  size_t active = 0;
  std::deque<std::shared_ptr<Call>> queue;
  bool closed = false;
};

// One TLS connection to the API server: connect (resolve, TCP, handshake),
// then plain request/response exchanges, or a watch that takes it over.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Shared = KubeClient::Shared;

  explicit Connection(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)), resolver_(shared_->io), resolve_timer_(shared_->io), stream_(shared_->io, shared_->tls) {}

  TlsStream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  bool is_open() const { return open_; }
  Clock::time_point idle_since() const { return idle_since_; }
  void mark_idle() { idle_since_ = Clock::now(); }

  // `done` gets "" once connected, else what failed.
  void connect(Clock::time_point deadline, std::function<void(std::string)> done) {
    const KubeConfig& config = shared_->config;
    auto self = shared_from_this();
    if (is_ip_address(config.host)) {
      boost::system::error_code ignored;
      tcp::endpoint endpoint(asio::ip::make_address(config.host, ignored), config.port);
      connect_to(std::vector<tcp::endpoint>{endpoint}, deadline, std::move(done));
      return;
    }
    // The resolver has no deadline of its own.
    resolve_timer_.expires_at(deadline);
    resolve_timer_.async_wait([self](boost::system::error_code error) {
      if (!error) self->resolver_.cancel();
    });
    resolver_.async_resolve(
        config.host, std::to_string(config.port),
        [self, deadline, done = std::move(done)](boost::system::error_code error, tcp::resolver::results_type results) mutable {
          self->resolve_timer_.cancel();
          if (error) {
            done("resolve " + self->shared_->config.host + ": " +
                 (error == asio::error::operation_aborted ? std::string("timed out") : error.message()));
            return;
          }
          self->connect_to(std::vector<tcp::endpoint>(results.begin(), results.end()), deadline, std::move(done));
        });
  }

  // Sends request_ and reads the whole response, bounded in size.
  void exchange(http::request<http::string_body> request, Clock::time_point deadline,
                std::function<void(Result<KubeResponse>, bool keep_alive)> done) {
    request_ = std::move(request);
    auto self = shared_from_this();
    beast::get_lowest_layer(stream_).expires_at(deadline);
    http::async_write(stream_, request_, [self, done = std::move(done)](beast::error_code error, size_t) mutable {
      if (error) {
        done(Error{"send: " + describe(error)}, false);
        return;
      }
      self->parser_.emplace();
      self->parser_->header_limit(kMaxHeaderBytes);
      self->parser_->body_limit(self->shared_->options.max_response_bytes);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self, done = std::move(done)](beast::error_code error, size_t) {
                         if (error) {
                           done(Error{"read response: " + describe(error)}, false);
                           return;
                         }
                         auto& response = self->parser_->get();
                         bool keep_alive = response.keep_alive();
                         done(KubeResponse{static_cast<int>(response.result_int()), std::move(response.body())},
                              keep_alive);
                       });
    });
  }

  void close() {
    open_ = false;
    resolver_.cancel();
    resolve_timer_.cancel();
    beast::get_lowest_layer(stream_).close();
  }

 private:
  void connect_to(std::vector<tcp::endpoint> endpoints, Clock::time_point deadline, std::function<void(std::string)> done) {
    auto self = shared_from_this();
    beast::get_lowest_layer(stream_).expires_at(deadline);
    beast::get_lowest_layer(stream_).async_connect(
        endpoints, [self, deadline, done = std::move(done)](beast::error_code error, const tcp::endpoint&) mutable {
          const KubeConfig& config = self->shared_->config;
          std::string where = self->shared_->host_header;
          if (error) {
            done("connect " + where + ": " + describe(error));
            return;
          }
          self->tune_socket();
          if (!is_ip_address(config.host)) SSL_set_tlsext_host_name(self->stream_.native_handle(), config.host.c_str());
          if (!config.insecure_skip_tls_verify) {
            self->stream_.set_verify_callback(ssl::host_name_verification(config.host));
          }
          self->stream_.async_handshake(ssl::stream_base::client,
                                        [self, where, done = std::move(done)](beast::error_code error) {
                                          if (error) {
                                            done("TLS handshake with " + where + ": " + describe(error));
                                            return;
                                          }
                                          self->open_ = true;
                                          done("");
                                        });
        });
  }

  void tune_socket() {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(tcp::socket::keep_alive(true), ignored);
    int fd = socket.native_handle();
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepaliveIdleSeconds, sizeof(int));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepaliveIntervalSeconds, sizeof(int));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepaliveProbes, sizeof(int));
  }

  std::shared_ptr<Shared> shared_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  TlsStream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool open_ = false;
  Clock::time_point idle_since_{};
};

std::shared_ptr<Connection> KubeClient::Shared::take_idle() {
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (connection->is_open() && Clock::now() - connection->idle_since() < options.idle_timeout) return connection;
    connection->close();
  }
  return nullptr;
}

void KubeClient::Shared::give_back(std::shared_ptr<Connection> connection) {
  if (closed || idle.size() >= options.max_connections) {
    connection->close();
    return;
  }
  connection->mark_idle();
  idle.push_back(std::move(connection));
}

namespace {

using Shared = KubeClient::Shared;
using Call = Shared::Call;

void run_call(const std::shared_ptr<Shared>& shared, const std::shared_ptr<Call>& call);

void start_call(const std::shared_ptr<Shared>& shared, std::shared_ptr<Call> call) {
  ++shared->active;
  call->deadline = Clock::now() + shared->options.request_timeout;
  run_call(shared, call);
}

// Ends `call`, then starts what waited for its slot.
void complete(const std::shared_ptr<Shared>& shared, const std::shared_ptr<Call>& call, Result<KubeResponse> result) {
  --shared->active;
  while (shared->active < shared->options.max_connections && !shared->queue.empty()) {
    auto next = std::move(shared->queue.front());
    shared->queue.pop_front();
    start_call(shared, std::move(next));
  }
  auto done = std::move(call->done);
  done(std::move(result));
}

void run_call(const std::shared_ptr<Shared>& shared, const std::shared_ptr<Call>& call) {
  auto connection = shared->take_idle();
  bool reused = connection != nullptr;
  if (!connection) connection = std::make_shared<Connection>(shared);
  const std::string& method = call->request.method;
  auto where = [call](const std::string& what) {
    return call->request.method + " " + call->request.target + ": " + what;
  };

  auto send = [shared, call, connection, reused, where] {
    connection->exchange(
        shared->build(call->request), call->deadline,
        [shared, call, connection, reused, where](Result<KubeResponse> result, bool keep_alive) {
          const std::string& method = call->request.method;
          if (!result) {
            shared->count(method, 0);
            connection->close();
            // A kept-alive connection the server closed while idle: once more on a new one.
            if (reused && !call->reuse_retried && Clock::now() < call->deadline) {
              call->reuse_retried = true;
              run_call(shared, call);
              return;
            }
            complete(shared, call, Error{where(result.error().message)});
            return;
          }
          shared->count(method, result->status);
          if (keep_alive) {
            shared->give_back(connection);
          } else {
            connection->close();
          }
          if (result->status == 401 && shared->token.reloadable() && !call->auth_retried) {
            call->auth_retried = true;
            shared->token.invalidate();
            spdlog::info("kube: {} {} answered 401; re-reading the token and retrying once", method, call->request.target);
            run_call(shared, call);
            return;
          }
          complete(shared, call, std::move(*result));
        });
  };
  if (connection->is_open()) {
    send();
    return;
  }
  connection->connect(call->deadline, [shared, call, method, send, where](std::string error) {
    if (!error.empty()) {
      shared->count(method, 0);
      complete(shared, call, Error{where(error)});
      return;
    }
    send();
  });
}

// One watch: its own connection, the answer's headers, then the body as it
// arrives, split into event lines.
class WatchSession : public KubeWatch, public std::enable_shared_from_this<WatchSession> {
 public:
  WatchSession(std::shared_ptr<Shared> shared, std::string target, std::chrono::milliseconds timeout,
               KubeApi::EventHandler on_event, KubeApi::EndHandler on_end)
      : shared_(std::move(shared)),
        target_(std::move(target)),
        deadline_(Clock::now() + timeout),
        on_event_(std::move(on_event)),
        on_end_(std::move(on_end)),
        lines_(shared_->options.max_event_bytes),
        chunk_(kWatchReadChunk) {}

  void start() {
    connection_ = std::make_shared<Connection>(shared_);
    auto self = shared_from_this();
    connection_->connect(deadline_, [self](std::string error) {
      if (self->done_) return;
      if (!error.empty()) {
        self->shared_->count("WATCH", 0);
        self->finish({.status = 0, .error = error, .timed_out = error.ends_with("timed out")});
        return;
      }
      self->send();
    });
  }

  void cancel() override {
    if (done_) return;
    done_ = true;
    if (connection_) connection_->close();
  }

 private:
  void send() {
    auto self = shared_from_this();
    request_ = shared_->build(KubeRequest{.method = "GET", .target = target_});
    beast::get_lowest_layer(connection_->stream()).expires_at(deadline_);
    http::async_write(connection_->stream(), request_, [self](beast::error_code error, size_t) {
      if (self->done_) return;
      if (error) {
        self->shared_->count("WATCH", 0);
        self->finish({.status = 0, .error = "send: " + describe(error), .timed_out = error == beast::error::timeout});
        return;
      }
      self->read_header();
    });
  }

  void read_header() {
    auto self = shared_from_this();
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // A watch body is as long as the watch. Not boost::none: Beast 1.74 then
    // refuses any answer with a Content-Length (it compares the length to an empty optional).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(connection_->stream(), connection_->buffer(), *parser_, [self](beast::error_code error, size_t) {
      if (self->done_) return;
      if (error) {
        self->shared_->count("WATCH", 0);
        self->finish({.status = 0, .error = "read response: " + describe(error), .timed_out = error == beast::error::timeout});
        return;
      }
      self->status_ = static_cast<int>(self->parser_->get().result_int());
      self->shared_->count("WATCH", self->status_);
      if (self->status_ == 401 && self->shared_->token.reloadable() && !self->auth_retried_) {
        self->auth_retried_ = true;
        self->shared_->token.invalidate();
        spdlog::info("kube: watch {} answered 401; re-reading the token and retrying once", self->target_);
        self->connection_->close();
        self->start();
        return;
      }
      self->read_body();
    });
  }

  void read_body() {
    auto self = shared_from_this();
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    http::async_read_some(connection_->stream(), connection_->buffer(), *parser_, [self](beast::error_code error, size_t) {
      if (self->done_) return;
      if (error == http::error::need_buffer) error = {};
      size_t got = self->chunk_.size() - self->parser_->get().body().size;
      if (got > 0 && !self->take(std::string_view(self->chunk_.data(), got))) return;
      if (error) {
        // A 200 stream that breaks off is a dropped watch; keep its status for the caller.
        self->finish({.status = self->status_,
                      .body = std::move(self->error_body_),
                      .error = "watch stream: " + describe(error),
                      .timed_out = error == beast::error::timeout});
        return;
      }
      if (self->parser_->is_done()) {
        self->finish({.status = self->status_, .body = std::move(self->error_body_)});
        return;
      }
      self->read_body();
    });
  }

  // Body bytes: events of a 200 stream, or the (bounded) body of an error
  // answer. False when the session ended meanwhile.
  bool take(std::string_view bytes) {
    if (status_ != 200) {
      error_body_.append(bytes.substr(0, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body_.size())));
      return true;
    }
    std::string bad_line;
    auto fed = lines_.feed(bytes, [&](std::string_view line) {
      if (done_ || !bad_line.empty()) return;
      auto event = nlohmann::json::parse(line, nullptr, false);
      if (event.is_discarded() || !event.is_object()) {
        bad_line = std::string(line.substr(0, 120));
        return;
      }
      on_event_(std::move(event));
    });
    if (done_) return false;
    if (!fed || !bad_line.empty()) {
      finish({.status = status_, .error = fed ? "not a JSON event: " + bad_line : fed.error().message});
      return false;
    }
    return true;
  }

  void finish(WatchEnd end) {
    if (done_) return;
    done_ = true;
    if (connection_) connection_->close();
    auto on_end = std::move(on_end_);
    on_end(std::move(end));
  }

  std::shared_ptr<Shared> shared_;
  std::string target_;
  Clock::time_point deadline_;
  KubeApi::EventHandler on_event_;
  KubeApi::EndHandler on_end_;
  std::shared_ptr<Connection> connection_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  LineSplitter lines_;
  std::vector<char> chunk_;
  std::string error_body_;
  int status_ = 0;
  bool auth_retried_ = false;
  bool done_ = false;  // cancelled or finished: no more callbacks
};

}  // namespace

// ---- KubeClient ----

Result<std::unique_ptr<KubeClient>> KubeClient::create(asio::io_context& io, const KubeConfig& config,
                                                       const KubeClientOptions& options) {
  auto shared = std::make_shared<Shared>(io, config, options);
  ssl::context& tls = shared->tls;
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  boost::system::error_code error;
  if (config.insecure_skip_tls_verify) {
    spdlog::warn("kube: insecure-skip-tls-verify: the API server's certificate is not checked");
    tls.set_verify_mode(ssl::verify_none);
  } else {
    tls.set_verify_mode(ssl::verify_peer);
    if (config.ca_pem.empty()) {
      tls.set_default_verify_paths(error);
      if (error) return Error{"cannot load the system's CA certificates: " + error.message()};
    } else {
      tls.add_certificate_authority(asio::buffer(config.ca_pem), error);
      if (error) return Error{"certificate-authority: not a usable PEM certificate (" + error.message() + ")"};
    }
  }
  if (!config.client_cert_pem.empty()) {
    tls.use_certificate_chain(asio::buffer(config.client_cert_pem), error);
    if (error) return Error{"client-certificate: not a usable PEM certificate (" + error.message() + ")"};
    tls.use_private_key(asio::buffer(config.client_key_pem), ssl::context::pem, error);
    if (error) return Error{"client-key: not a usable PEM key for the certificate (" + error.message() + ")"};
  }
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(shared)));
}

KubeClient::~KubeClient() {
  shared_->closed = true;
  for (auto& connection : shared_->idle) connection->close();
  shared_->idle.clear();
  shared_->queue.clear();
}

void KubeClient::request(KubeRequest request, ResponseHandler done) {
  auto call = std::make_shared<Call>(Call{.request = std::move(request), .done = std::move(done), .deadline = {}});
  if (shared_->active < shared_->options.max_connections) {
    start_call(shared_, std::move(call));
    return;
  }
  if (shared_->queue.size() >= shared_->options.max_queued) {
    asio::post(shared_->io, [call, queued = shared_->queue.size()] {
      call->done(Error{call->request.method + " " + call->request.target + ": " + std::to_string(queued) +
                       " Kubernetes API requests are queued already"});
    });
    return;
  }
  shared_->queue.push_back(std::move(call));
}

std::shared_ptr<KubeWatch> KubeClient::watch(std::string target, std::chrono::milliseconds timeout,
                                             EventHandler on_event, EndHandler on_end) {
  auto session = std::make_shared<WatchSession>(shared_, std::move(target), timeout, std::move(on_event),
                                                std::move(on_end));
  session->start();
  return session;
}

const std::map<std::pair<std::string, std::string>, uint64_t>& KubeClient::requests_total() const {
  return shared_->requests_total;
}

}  // namespace grpc_ingress
