#include "dataplane/http1/request_parser.h"

#include "common/text.h"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <array>

namespace grpc_ingress {
namespace {

namespace http = boost::beast::http;

bool starts_with_no_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && lower_case(text.substr(0, prefix.size())) == prefix;
}

}  // namespace

std::vector<std::string> header_tokens(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    item = trim_blanks(item.substr(0, item.find(';')));
    if (!item.empty()) out.push_back(lower_case(item));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool is_h1_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
      "te",         "host",       "expect",           "http2-settings",    "trailer"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

H1RequestParser::H1RequestParser(size_t max_header_bytes, uint64_t max_body_bytes) {
  header_limit(static_cast<uint32_t>(std::min<size_t>(max_header_bytes, UINT32_MAX)));
  body_limit(max_body_bytes);
  eager(false);  // return after the head, so the caller can route before the body
}

size_t H1RequestParser::feed(const char* data, size_t size, boost::beast::error_code& ec) {
  return put(boost::asio::const_buffer(data, size), ec);
}

void H1RequestParser::refuse(boost::beast::error_code& ec, int status, std::string reason) {
  refused_status_ = status;
  refused_reason_ = std::move(reason);
  ec = http::error::bad_value;
}

void H1RequestParser::on_request_impl(http::verb method, boost::beast::string_view method_text,
                                      boost::beast::string_view target, int version,
                                      boost::beast::error_code& ec) {
  request_.method = std::string(method_text);
  request_.version = version;
  target_ = std::string(target);
  request_.path = target_;  // for the log if the head fails; the head's end sets the real one
  if (method == http::verb::connect) {
    refuse(ec, 405, "CONNECT is not supported: grpc-ingress is not a forward proxy");
  }
}

void H1RequestParser::on_field_impl(http::field, boost::beast::string_view name_text,
                                    boost::beast::string_view value, boost::beast::error_code&) {
  // The list copies both; the lower-cased name lives until then.
  std::string name = lower_case(std::string_view(name_text.data(), name_text.size()));
  Header header{name, std::string_view(value.data(), value.size())};
  if (is_header_done()) {
    // A chunked body's trailer section.
    if (!is_h1_hop_by_hop(header.name) && header.name != "content-length") request_.trailers.push_back(header);
    return;
  }
  raw_headers_.push_back(header);
}

void H1RequestParser::on_header_impl(boost::beast::error_code& ec) {
  // The request-target: origin-form, absolute-form (a client that thinks we
  // are a proxy), or "*" for OPTIONS.
  std::string_view target = target_;
  std::string absolute_authority;
  if (target.starts_with('/')) {
    request_.path = target;
  } else if (target == "*" && request_.method == "OPTIONS") {
    request_.path = "*";
  } else if (starts_with_no_case(target, "http://") || starts_with_no_case(target, "https://")) {
    target.remove_prefix(target.find("//") + 2);
    size_t end = target.find_first_of("/?");
    absolute_authority = target.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : target.substr(end);
    request_.path = rest.starts_with('/') ? std::string(rest) : "/" + std::string(rest);
    if (absolute_authority.empty() || absolute_authority.find('@') != std::string::npos) {
      return refuse(ec, 400, "bad authority in the request target '" + target_ + "'");
    }
  } else {
    return refuse(ec, 400, "bad request target '" + target_ + "'");
  }

  std::vector<std::string> connection_options;
  const std::string_view* host = nullptr;
  for (const Header& header : raw_headers_) {
    if (header.name == "connection") {
      for (std::string& option : header_tokens(header.value)) connection_options.push_back(std::move(option));
    } else if (header.name == "host") {
      if (host) return refuse(ec, 400, "more than one Host header");
      host = &header.value;
    } else if (header.name == "te") {
      for (const std::string& coding : header_tokens(header.value)) {
        if (coding == "trailers") request_.accepts_trailers = true;
      }
    } else if (header.name == "expect") {
      if (lower_case(header.value) == "100-continue") request_.expect_continue = true;
    } else if (header.name == "content-type") {
      request_.content_type = header.value;
    }
  }
  if (!absolute_authority.empty()) {
    request_.authority = std::move(absolute_authority);
  } else if (host) {
    request_.authority = *host;
  } else if (request_.version >= 11) {
    return refuse(ec, 400, "an HTTP/1.1 request needs a Host header");
  }

  for (const Header& header : raw_headers_) {
    if (is_h1_hop_by_hop(header.name)) continue;
    if (std::find(connection_options.begin(), connection_options.end(), header.name) !=
        connection_options.end()) {
      continue;
    }
    request_.headers.push_back(header);
  }
  raw_headers_.clear();
  // The only TE value HTTP/2 allows, and gRPC needs.
  if (request_.accepts_trailers) request_.headers.push_back({"te", "trailers"});
  request_.keep_alive = keep_alive();
  request_.has_body = chunked() || content_length().value_or(0) > 0;
}

void H1RequestParser::on_body_init_impl(const boost::optional<uint64_t>&, boost::beast::error_code&) {}

size_t H1RequestParser::take_body(boost::beast::string_view body) {
  if (!body_sink_) {  // discarding
    body_bytes_ += body.size();
    return body.size();
  }
  size_t n = std::min(body.size(), body_room_);
  // false: the stream refused the bytes and has answered; the rest is discarded.
  if (!body_sink_->take_request_body(reinterpret_cast<const uint8_t*>(body.data()), n)) body_sink_ = nullptr;
  body_room_ -= n;
  body_bytes_ += n;
  return n;
}

size_t H1RequestParser::on_body_impl(boost::beast::string_view body, boost::beast::error_code&) {
  return take_body(body);
}

void H1RequestParser::on_chunk_header_impl(uint64_t, boost::beast::string_view, boost::beast::error_code&) {}

size_t H1RequestParser::on_chunk_body_impl(uint64_t, boost::beast::string_view body, boost::beast::error_code&) {
  return take_body(body);
}

void H1RequestParser::on_finish_impl(boost::beast::error_code&) {}

int H1RequestParser::error_status(const boost::beast::error_code& ec) const {
  if (refused_status_) return refused_status_;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::bad_version) return 505;
  return 400;
}

std::string H1RequestParser::error_reason(const boost::beast::error_code& ec) const {
  if (!refused_reason_.empty()) return refused_reason_;
  if (ec == http::error::header_limit) return "request headers too large";
  if (ec == http::error::body_limit) return "request body too large";
  if (ec == http::error::bad_version) return "only HTTP/1.0, HTTP/1.1 and HTTP/2 are served";
  return "malformed HTTP/1.1 request: " + ec.message();
}

}  // namespace grpc_ingress
