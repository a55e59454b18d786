#pragma once

#include "dataplane/proxy_stream.h"

#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <cstdint>

namespace grpc_ingress {

// One HTTP/1.1 response from a pod, parsed by Beast into a ProxyStream:
// status and headers (hop-by-hop ones dropped), body bytes at most `room` at a
// time (the stream's window), chunked trailers.
class H1ResponseParser : private boost::beast::http::basic_parser<false> {
 public:
  H1ResponseParser(size_t max_header_bytes, bool head_request);

  // Parses from `data`; returns the bytes consumed. Stops after the head and
  // whenever the room for body bytes is used up.
  size_t feed(ProxyStream& stream, const char* data, size_t size, size_t room, boost::beast::error_code& ec);
  // The pod closed the connection: ends a body that runs until close.
  void feed_eof(boost::beast::error_code& ec) { put_eof(ec); }

  bool head_done() const { return is_header_done(); }
  bool done() const { return is_done(); }
  bool keep_alive() const { return basic_parser::keep_alive(); }
  int status() const { return status_; }
  // Body bytes handed to the stream by the last feed().
  size_t body_taken() const { return body_taken_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       boost::beast::error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_text,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<uint64_t>&, boost::beast::error_code&) override {}
  size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(uint64_t, boost::beast::string_view, boost::beast::error_code&) override {}
  size_t on_chunk_body_impl(uint64_t remain, boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code&) override {}

  size_t take(boost::beast::string_view body);

  ProxyStream* stream_ = nullptr;  // during feed() only
  size_t room_ = 0;
  size_t body_taken_ = 0;
  int status_ = 0;
  HeaderList headers_;  // the head's fields until it is complete
};

}  // namespace grpc_ingress
