#pragma once

// Header helpers shared by the two nghttp2 codecs (h2_server_session.cc and
// h2_client_connection.cc), the only files that include this one.

#include <nghttp2/nghttp2.h>

#include <string_view>
#include <vector>

namespace grpc_ingress {

// An nghttp2 header list pointing at strings that outlive the submit call
// (nghttp2 copies names and values while submitting).
class NvList {
 public:
  void add(std::string_view name, std::string_view value) {
    nva_.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  const nghttp2_nv* data() const { return nva_.data(); }
  size_t size() const { return nva_.size(); }

 private:
  std::vector<nghttp2_nv> nva_;
};

// Hop-by-hop headers that HTTP/2 forbids (RFC 9113 8.2.2); "te: trailers" is allowed.
inline bool is_connection_specific(std::string_view name, std::string_view value) {
  if (name == "te") return value != "trailers";
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

}  // namespace grpc_ingress
