#include "dataplane/external_auth.h"

#include "common/text.h"
#include "dataplane/proxy_stream.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <limits>
#include <list>
#include <unordered_map>
#include <unordered_set>

namespace grpc_ingress {
namespace {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Headers that stay on the client's hop, or that the auth request sets itself
// (a client must not choose what the auth service reads as X-Original-URL).
bool not_for_auth_service(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "connection",    "keep-alive",     "proxy-connection",  "transfer-encoding", "upgrade",
      "te",            "trailer",        "content-length",    "host",              "expect",
      "http2-settings", "x-original-url", "x-original-method", "x-sent-from",       "x-real-ip",
      "x-forwarded-for", "x-auth-request-redirect", "x-forwarded-proto"};
  for (std::string_view dropped : kDropped) {
    if (name == dropped) return true;
  }
  return false;
}

// Header names an auth service may not set on the request toward the pod:
// they frame or route the request.
bool not_for_pod(std::string_view name) {
  static constexpr std::string_view kRefused[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                                  "upgrade",    "te",         "trailer",          "content-length",
                                                  "host"};
  if (name.empty() || name.front() == ':') return true;
  for (std::string_view refused : kRefused) {
    if (name == refused) return true;
  }
  return false;
}

bool has_line_break(std::string_view text) { return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

// `text` without CR, LF and NUL (request fields come parsed and validated; this is only a fence).
std::string fenced(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n' && c != '\0') out += c;
  }
  return out;
}

std::string host_header(const ExternalAuth& auth) {
  std::string host = auth.host;
  if (host.find(':') != std::string::npos && !host.starts_with('[')) host = "[" + host + "]";
  if (auth.port != 80) host += ":" + std::to_string(auth.port);
  return host;
}

// The host to connect to: IPv6 literals without their brackets.
std::string connect_host(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

// Every value of header `name` in `stream`'s request, joined by ",".
std::string header_values(const ProxyStream& stream, std::string_view name) {
  std::string out;
  for (const Header& header : stream.request_headers) {
    if (header.name != name) continue;
    if (!out.empty()) out += ',';
    out += header.value;
  }
  return out;
}

}  // namespace

const char* to_string(AuthAnswer::Kind kind) {
  switch (kind) {
    case AuthAnswer::Kind::kAllowed:
      return "allowed";
    case AuthAnswer::Kind::kUnauthenticated:
      return "unauthenticated (401)";
    case AuthAnswer::Kind::kForbidden:
      return "forbidden (403)";
    case AuthAnswer::Kind::kFailed:
      return "failed";
  }
  return "?";
}

// The client's state, shared with its exchanges so that one finishing after
// the client is gone neither answers nor touches freed memory.
struct ExternalAuthClient::State {
  explicit State(boost::asio::io_context& context) : io(context) {}

  struct CacheEntry {
    AuthAnswer answer;
    Clock::time_point expires;
    std::list<std::string>::iterator order;
  };

  // The cached answer for `key`, if it has not expired (an expired one is dropped).
  const AuthAnswer* lookup(const std::string& key, Clock::time_point now) {
    auto it = cache.find(key);
    if (it == cache.end()) return nullptr;
    if (now >= it->second.expires) {
      order.erase(it->second.order);
      cache.erase(it);
      return nullptr;
    }
    return &it->second.answer;
  }

  void store(const std::string& key, const AuthAnswer& answer, Clock::time_point expires, Clock::time_point now) {
    if (auto it = cache.find(key); it != cache.end()) {
      order.erase(it->second.order);
      cache.erase(it);
    }
    if (cache.size() >= kMaxCacheEntries) {
      std::erase_if(cache, [&](auto& entry) {
        if (now < entry.second.expires) return false;
        order.erase(entry.second.order);
        return true;
      });
    }
    while (cache.size() >= kMaxCacheEntries && !order.empty()) {  // the oldest go first
      cache.erase(order.front());
      order.pop_front();
    }
    order.push_back(key);
    CacheEntry entry{answer, expires, std::prev(order.end())};
    entry.answer.cached = true;
    cache.emplace(key, std::move(entry));
  }

  // Once per kWarnInterval per auth service; how many were not logged since.
  std::optional<uint64_t> may_warn(const std::string& url, Clock::time_point now) {
    if (warned.size() > 256) warned.clear();
    Warned& entry = warned[url];
    if (entry.last != Clock::time_point{} && now - entry.last < kWarnInterval) {
      ++entry.suppressed;
      return std::nullopt;
    }
    uint64_t suppressed = entry.suppressed;
    entry = {now, 0};
    return suppressed;
  }

  // A kept connection to `service` ("host port"), if one is young enough.
  std::optional<tcp::socket> take_idle(const std::string& service, Clock::time_point now) {
    auto it = idle.find(service);
    if (it == idle.end()) return std::nullopt;
    std::optional<tcp::socket> found;
    while (!it->second.empty() && !found) {
      Idle kept = std::move(it->second.back());
      it->second.pop_back();
      if (now - kept.since < kIdleTimeout) found = std::move(kept.socket);
    }
    if (it->second.empty()) idle.erase(it);
    return found;
  }
  void keep_idle(const std::string& service, tcp::socket socket, Clock::time_point now) {
    if (!idle.count(service) && idle.size() >= kMaxIdleServices) return;
    auto& kept = idle[service];
    std::erase_if(kept, [&](const Idle& entry) { return now - entry.since >= kIdleTimeout; });
    if (kept.size() >= kMaxIdlePerService) kept.erase(kept.begin());
    kept.push_back({std::move(socket), now});
  }

  boost::asio::io_context& io;
  bool alive = true;
  struct Idle {
    tcp::socket socket;
    Clock::time_point since;
  };
  std::unordered_map<std::string, std::vector<Idle>> idle;  // kept connections, by service
  std::unordered_map<std::string, CacheEntry> cache;
  std::list<std::string> order;  // cache keys, oldest first
  std::unordered_set<Exchange*> exchanges;
  uint64_t asked = 0;
  struct Warned {
    Clock::time_point last{};
    uint64_t suppressed = 0;
  };
  std::unordered_map<std::string, Warned> warned;  // by auth-url
};

// One question to the auth service: (resolve, connect or) take an idle
// connection, write, read the response head, all under one timer; then read
// the rest of a small body so the connection can serve the next question.
// Kept alive by its pending handlers.
class ExternalAuthClient::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<State> state, const ExternalAuth& auth, std::string request,
           std::optional<std::string> cache_key, Clock::time_point cache_until, Done done)
      : state_(std::move(state)),
        resolver_(state_->io),
        socket_(state_->io),
        timer_(state_->io),
        url_(auth.url),
        host_(connect_host(auth.host)),
        port_(auth.port),
        service_(host_ + " " + std::to_string(port_)),
        timeout_(auth.timeout),
        response_headers_(auth.response_headers),
        request_(std::move(request)),
        cache_key_(std::move(cache_key)),
        cache_until_(cache_until),
        done_(std::move(done)) {
    state_->exchanges.insert(this);
  }
  ~Exchange() {
    if (state_->alive) state_->exchanges.erase(this);
  }

  void start() {
    ++state_->asked;
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->timed_out_ = true;  // undecided: fails; draining: the connection is not kept
      boost::system::error_code ignored;
      self->resolver_.cancel();
      self->socket_.close(ignored);
    });
    if (std::optional<tcp::socket> idle = state_->take_idle(service_, Clock::now())) {
      socket_ = std::move(*idle);
      reused_ = true;
      send();
      return;
    }
    connect();
  }

  // The client is going away: nothing more is answered.
  void abandon() {
    finished_ = true;
    done_ = nullptr;
    boost::system::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
  }

 private:
  void connect() {
    parser_.emplace();
    parser_->header_limit(kMaxResponseHeadBytes);
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // bounded in answered()
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host_, ec);
    if (!ec) {
      socket_.async_connect(tcp::endpoint(address, port_), [self = shared_from_this()](boost::system::error_code ec) {
        self->connected(ec);
      });
      return;
    }
    resolver_.async_resolve(host_, std::to_string(port_),
                            [self = shared_from_this()](boost::system::error_code ec, tcp::resolver::results_type found) {
                              if (ec) return self->failed("cannot resolve " + self->host_, ec);
                              boost::asio::async_connect(
                                  self->socket_, found,
                                  [self](boost::system::error_code ec, const tcp::endpoint&) { self->connected(ec); });
                            });
  }

  void connected(boost::system::error_code ec) {
    if (ec) return failed("cannot connect to " + host_ + ":" + std::to_string(port_), ec);
    send();
  }

  void send() {
    if (!parser_) {
      parser_.emplace();
      parser_->header_limit(kMaxResponseHeadBytes);
      parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // bounded in answered()
    }
    boost::asio::async_write(socket_, boost::asio::buffer(request_),
                             [self = shared_from_this()](boost::system::error_code ec, size_t) {
                               if (ec) return self->stale_or_failed("sending the request failed", ec);
                               http::async_read_header(self->socket_, self->buffer_, *self->parser_,
                                                       [self](boost::system::error_code ec, size_t) {
                                                         if (ec) return self->stale_or_failed("reading the answer failed", ec);
                                                         self->answered();
                                                       });
                             });
  }

  // A kept connection the service closed meanwhile fails before any byte of
  // an answer: the question is asked again on a fresh one (once).
  void stale_or_failed(const std::string& what, boost::system::error_code ec) {
    if (reused_ && !timed_out_ && !finished_ && buffer_.size() == 0 && !parser_->got_some()) {
      reused_ = false;
      boost::system::error_code ignored;
      socket_.close(ignored);
      socket_ = tcp::socket(state_->io);
      parser_.reset();
      connect();
      return;
    }
    failed(what, ec);
  }

  void failed(const std::string& what, boost::system::error_code ec) {
    AuthAnswer answer;
    answer.failure = timed_out_ ? "no answer within " + std::to_string(timeout_.count()) + " ms" : what + ": " + ec.message();
    finish(std::move(answer), false);
  }

  void answered() {
    const auto& head = parser_->get();
    AuthAnswer answer;
    answer.status = static_cast<int>(head.result_int());
    if (answer.status >= 200 && answer.status < 300) {
      answer.kind = AuthAnswer::Kind::kAllowed;
      for (const std::string& wanted : response_headers_) {
        if (not_for_pod(wanted)) continue;
        for (const auto& field : head) {
          std::string name = lower_case(std::string_view(field.name_string().data(), field.name_string().size()));
          if (name != wanted) continue;
          std::string_view value(field.value().data(), field.value().size());
          if (has_line_break(value)) continue;
          answer.upstream_headers.push_back({name, value});
        }
      }
    } else if (answer.status == 401) {
      answer.kind = AuthAnswer::Kind::kUnauthenticated;
      auto it = head.find(http::field::www_authenticate);
      if (it != head.end()) answer.www_authenticate = fenced({it->value().data(), it->value().size()});
    } else if (answer.status == 403) {
      answer.kind = AuthAnswer::Kind::kForbidden;
    } else {
      answer.failure = "answered HTTP " + std::to_string(answer.status);
    }
    // The answer does not wait for the body; the connection is kept only
    // once its body was read (and is small), within the same timeout.
    auto length = parser_->content_length();
    bool drain = parser_->keep_alive() && answer.status >= 200 && length && *length <= kMaxDrainedBodyBytes;
    if (drain && buffer_.size() != 0) {  // the body often came with the head
      boost::system::error_code ec;
      buffer_.consume(parser_->put(buffer_.data(), ec));
      drain = !ec || ec == http::error::need_more;
    }
    if (drain && parser_->is_done()) {
      keep();  // before answering: a question the answer starts may take it
      finish(std::move(answer), false);
      return;
    }
    finish(std::move(answer), drain);
    if (!drain) return;
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (!ec) return self->keep();
      boost::system::error_code ignored;
      self->timer_.cancel();
      self->socket_.close(ignored);
    });
  }

  // The answer is whole: the connection waits for the next question.
  void keep() {
    boost::system::error_code ignored;
    timer_.cancel();
    if (!state_->alive || timed_out_ || buffer_.size() != 0 || !socket_.is_open()) {
      socket_.close(ignored);
      return;
    }
    state_->keep_idle(service_, std::move(socket_), Clock::now());
  }

  // Answers once. `draining`: the connection stays open for keep().
  void finish(AuthAnswer answer, bool draining) {
    if (finished_) return;
    finished_ = true;
    if (!draining) {
      boost::system::error_code ignored;
      timer_.cancel();
      socket_.close(ignored);
    }
    if (!state_->alive) return;
    if (cache_key_ && answer.kind != AuthAnswer::Kind::kFailed) {
      size_t header_bytes = answer.www_authenticate.size();
      for (const Header& header : answer.upstream_headers) header_bytes += header.name.size() + header.value.size();
      if (header_bytes <= kMaxCachedHeaderBytes) state_->store(*cache_key_, answer, cache_until_, Clock::now());
    }
    if (answer.kind == AuthAnswer::Kind::kFailed) {
      if (auto suppressed = state_->may_warn(url_, Clock::now())) {
        spdlog::warn("auth-url {}: {}; requests that need it fail closed{}", url_, answer.failure,
                     *suppressed ? fmt::format(" ({} more failures since the last line)", *suppressed) : "");
      }
    }
    Done done = std::move(done_);
    done_ = nullptr;
    state_->exchanges.erase(this);
    if (done) done(std::move(answer));
  }

  std::shared_ptr<State> state_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::string url_;
  std::string host_;
  uint16_t port_;
  std::string service_;  // where kept connections are filed
  std::chrono::milliseconds timeout_;
  std::vector<std::string> response_headers_;
  std::string request_;
  std::optional<std::string> cache_key_;
  Clock::time_point cache_until_;
  Done done_;
  boost::beast::flat_buffer buffer_{kMaxResponseHeadBytes + 1024};
  std::optional<http::response_parser<http::string_body>> parser_;
  bool reused_ = false;  // on a kept connection
  bool finished_ = false;
  bool timed_out_ = false;
};

ExternalAuthClient::ExternalAuthClient(boost::asio::io_context& io) : state_(std::make_shared<State>(io)) {}

ExternalAuthClient::~ExternalAuthClient() {
  auto exchanges = std::move(state_->exchanges);
  state_->exchanges.clear();
  state_->alive = false;
  state_->idle.clear();
  for (Exchange* exchange : exchanges) exchange->abandon();
}

size_t ExternalAuthClient::cached_answers() const { return state_->cache.size(); }
size_t ExternalAuthClient::in_flight() const { return state_->exchanges.size(); }
uint64_t ExternalAuthClient::questions_asked() const { return state_->asked; }
size_t ExternalAuthClient::idle_connections() const {
  size_t n = 0;
  for (const auto& [_, kept] : state_->idle) n += kept.size();
  return n;
}

std::string ExternalAuthClient::original_url(const ProxyStream& stream) {
  std::string url = stream.downstream_tls ? "https://" : "http://";
  url += stream.authority;
  if (!stream.path.starts_with('/')) url += '/';
  url += stream.path;
  return fenced(url);
}

std::string ExternalAuthClient::request_head(const ProxyStream& stream, const ExternalAuth& auth) {
  std::string method = auth.method.empty() ? "GET" : fenced(auth.method);
  std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
  std::string head = method + " " + (auth.path.empty() ? "/" : fenced(auth.path)) + " HTTP/1.1\r\n";
  head += "Host: " + host_header(auth) + "\r\n";
  std::string cookies;
  for (const Header& header : stream.request_headers) {
    if (header.name.empty() || header.name.front() == ':' || not_for_auth_service(header.name)) continue;
    if (has_line_break(header.name) || has_line_break(header.value)) continue;
    if (header.name == "cookie") {  // HTTP/2 may split it; HTTP/1.1 wants one
      if (!cookies.empty()) cookies += "; ";
      cookies += header.value;
      continue;
    }
    head.append(header.name).append(": ").append(header.value).append("\r\n");
  }
  if (!cookies.empty()) head += "cookie: " + cookies + "\r\n";
  std::string client = fenced(stream.client_address_text);
  head += "X-Original-URL: " + original_url(stream) + "\r\n";
  head += "X-Original-Method: " + fenced(stream.method) + "\r\n";
  head += "X-Sent-From: grpc-ingress\r\n";
  if (!client.empty()) {
    head += "X-Real-IP: " + client + "\r\n";
    head += "X-Forwarded-For: " + client + "\r\n";
  }
  head += "X-Auth-Request-Redirect: " + fenced(stream.path) + "\r\n";
  for (const std::string& line : auth.request_headers) {  // "Name: value"
    if (line.find(':') != std::string::npos && !has_line_break(line)) head += line + "\r\n";
  }
  if (method == "POST") head += "Content-Length: 0\r\n";
  head += "\r\n";  // HTTP/1.1: the connection is kept for the next question
  return head;
}

std::optional<std::string> ExternalAuthClient::cache_key(const ProxyStream& stream, const ExternalAuth& auth) {
  if (auth.cache_key.empty() || auth.cache_duration.count() <= 0) return std::nullopt;
  // Whose answer: the same service asked the same way (another Ingress with
  // another auth-url or other auth-response-headers has its own entries).
  std::string key = auth.url + '\n' + auth.method + '\n' + join(auth.response_headers, ",") + '\n';
  for (const std::string& item : auth.cache_key) {
    std::string_view path = stream.path;
    if (item == "$remote_addr") {
      key += stream.client_address_text;
    } else if (item == "$host" || item == "$http_host") {
      key += stream.authority;
    } else if (item == "$request_uri") {
      key += path;
    } else if (item == "$uri") {
      key += path.substr(0, path.find('?'));
    } else if (item == "$request_method") {
      key += stream.method;
    } else if (item.starts_with("$http_")) {
      std::string name = lower_case(item.substr(6));
      std::replace(name.begin(), name.end(), '_', '-');
      key += header_values(stream, name);
    } else if (item.starts_with('$')) {
      key += item;  // a variable we do not know: a constant part of the key
    } else {
      key += header_values(stream, lower_case(item));
    }
    key += '\x1f';
    if (key.size() > kMaxCacheKeyBytes) return std::nullopt;
  }
  return key;
}

void ExternalAuthClient::check(const ProxyStream& stream, const ExternalAuth& auth, Done done, Clock::time_point now) {
  std::optional<std::string> key = cache_key(stream, auth);
  if (key) {
    if (const AuthAnswer* cached = state_->lookup(*key, now)) {
      done(*cached);
      return;
    }
  }
  if (state_->exchanges.size() >= kMaxInFlight) {
    AuthAnswer answer;
    answer.failure = "too many auth requests in flight on this worker (" + std::to_string(kMaxInFlight) + ")";
    done(std::move(answer));
    return;
  }
  auto exchange = std::make_shared<Exchange>(state_, auth, request_head(stream, auth), std::move(key),
                                             now + auth.cache_duration, std::move(done));
  exchange->start();
}

}  // namespace grpc_ingress
