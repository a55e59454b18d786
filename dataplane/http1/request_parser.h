#pragma once

#include "dataplane/byte_queue.h"
#include "dataplane/proxy_stream.h"

#include <boost/beast/http/basic_parser.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress {

// One HTTP/1.1 request head, already in the shape of an HTTP/2 request:
// lower-case header names, hop-by-hop headers gone, Host as the authority.
struct H1Request {
  std::string method;
  std::string authority;  // the absolute-form target's authority, else Host
  std::string path;       // origin-form target, query included
  int version = 11;       // 10 or 11
  HeaderList headers;     // what is forwarded (content-length kept, "te: trailers" kept)
  HeaderList trailers;    // chunked trailer fields, filtered the same way
  bool keep_alive = true;       // by version and Connection
  bool expect_continue = false;  // "Expect: 100-continue"
  bool accepts_trailers = false;  // "TE: trailers"
  bool has_body = false;          // content-length > 0 or chunked
  std::string content_type;
};

// Parses one request (Boost.Beast's parser underneath) and bounds it: the
// head to `max_header_bytes` (431), the body to `max_body_bytes` (413).
// Body bytes go to the sink the caller sets, at most `room` at a time, so a
// request body is read only as fast as the pod takes it.
class H1RequestParser : private boost::beast::http::basic_parser<true> {
 public:
  H1RequestParser(size_t max_header_bytes, uint64_t max_body_bytes);

  // Parses from `data`; returns the bytes consumed (drop them even on error).
  // error::need_more: give more bytes. Stops after the head, and whenever the
  // body room is used up.
  size_t feed(const char* data, size_t size, boost::beast::error_code& ec);

  // Where body bytes go (the stream takes them: message limits, gRPC-Web
  // text decoding) and how many may go there before feed() pauses.
  // A null sink discards the body (no room limit).
  void set_body_sink(ProxyStream* sink, size_t room) {
    body_sink_ = sink;
    body_room_ = room;
  }
  size_t body_room() const { return body_room_; }
  uint64_t body_bytes() const { return body_bytes_; }

  bool head_done() const { return is_header_done(); }
  bool done() const { return is_done(); }
  bool got_any() const { return got_some(); }
  const H1Request& request() const { return request_; }
  H1Request& request() { return request_; }

  // The HTTP status that answers a failed parse: 400, 405, 413, 431 or 505.
  int error_status(const boost::beast::error_code& ec) const;
  // Why, in words, for the answer's body and the log.
  std::string error_reason(const boost::beast::error_code& ec) const;

 private:
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_text,
                       boost::beast::string_view target, int version, boost::beast::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code&) override {}
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_text,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<uint64_t>& content_length, boost::beast::error_code& ec) override;
  size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  size_t on_chunk_body_impl(uint64_t remain, boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  // Stops the parse with our own status (a semantic error Beast cannot see).
  void refuse(boost::beast::error_code& ec, int status, std::string reason);
  size_t take_body(boost::beast::string_view body);

  H1Request request_;
  std::string target_;
  HeaderList raw_headers_;  // as received, names lower-cased
  ProxyStream* body_sink_ = nullptr;
  size_t body_room_ = 0;
  uint64_t body_bytes_ = 0;
  int refused_status_ = 0;
  std::string refused_reason_;
};

// The comma-separated tokens of a list-valued header, lower-cased, without
// parameters ("trailers, deflate;q=0.5" -> "trailers", "deflate").
std::vector<std::string> header_tokens(std::string_view value);

// Hop-by-hop fields of HTTP/1.1 that never cross to HTTP/2 (RFC 9110 7.6.1,
// RFC 9113 8.2.2), besides those the Connection header names.
bool is_h1_hop_by_hop(std::string_view lower_case_name);

}  // namespace grpc_ingress
