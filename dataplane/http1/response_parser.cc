#include "dataplane/http1/response_parser.h"

#include "common/text.h"
#include "dataplane/http1/request_parser.h"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace grpc_ingress {

namespace http = boost::beast::http;

H1ResponseParser::H1ResponseParser(size_t max_header_bytes, bool head_request) {
  header_limit(static_cast<uint32_t>(std::min<size_t>(max_header_bytes, UINT32_MAX)));
  // A response body is bounded by the client's reading, not by size. (Not
  // boost::none: Boost 1.74 compares a length against the empty optional.)
  body_limit(std::numeric_limits<uint64_t>::max());
  eager(false);             // return after the head, so it is delivered before the body
  if (head_request) skip(true);
}

size_t H1ResponseParser::feed(ProxyStream& stream, const char* data, size_t size, size_t room,
                              boost::beast::error_code& ec) {
  stream_ = &stream;
  room_ = room;
  body_taken_ = 0;
  size_t used = put(boost::asio::const_buffer(data, size), ec);
  stream_ = nullptr;
  return used;
}

void H1ResponseParser::on_response_impl(int code, boost::beast::string_view, int version,
                                        boost::beast::error_code& ec) {
  status_ = code;
  if (version < 10) ec = http::error::bad_version;
}

void H1ResponseParser::on_field_impl(http::field, boost::beast::string_view name_text,
                                     boost::beast::string_view value, boost::beast::error_code&) {
  // The list copies both; the lower-cased name lives until then.
  std::string name = lower_case(std::string_view(name_text.data(), name_text.size()));
  Header header{name, std::string_view(value.data(), value.size())};
  if (is_header_done()) {
    if (!is_h1_hop_by_hop(header.name) && header.name != "content-length") stream_->response.trailers.push_back(header);
    return;
  }
  headers_.push_back(header);
}

void H1ResponseParser::on_header_impl(boost::beast::error_code&) {
  // Hop-by-hop fields, and those Connection names, stay on this connection.
  std::vector<std::string> connection_options;
  for (const Header& header : headers_) {
    if (header.name != "connection") continue;
    for (std::string& option : header_tokens(header.value)) connection_options.push_back(std::move(option));
  }
  stream_->response.status = status_;
  stream_->response.headers.clear();
  for (const Header& header : headers_) {
    if (is_h1_hop_by_hop(header.name)) continue;
    if (std::find(connection_options.begin(), connection_options.end(), header.name) != connection_options.end()) {
      continue;
    }
    stream_->response.headers.push_back(header);
  }
  headers_.clear();
}

size_t H1ResponseParser::take(boost::beast::string_view body) {
  size_t n = std::min(body.size(), room_);
  // false: the stream refused the bytes (a message limit) and has answered.
  stream_->take_response_body(reinterpret_cast<const uint8_t*>(body.data()), n);
  room_ -= n;
  body_taken_ += n;
  return n;
}

size_t H1ResponseParser::on_body_impl(boost::beast::string_view body, boost::beast::error_code&) { return take(body); }

size_t H1ResponseParser::on_chunk_body_impl(uint64_t, boost::beast::string_view body, boost::beast::error_code&) {
  return take(body);
}

}  // namespace grpc_ingress
