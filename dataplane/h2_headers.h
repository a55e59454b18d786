#pragma once

// Header helpers shared by the two nghttp2 codecs (h2_server_session.cc and
// h2_client_connection.cc), the only files that include this one.

#include <nghttp2/nghttp2.h>

#include <array>
#include <string_view>
#include <vector>

namespace grpc_ingress {

// An nghttp2 header list pointing at strings that outlive the submit call
// (nghttp2 copies names and values while submitting). Typical header blocks
// fit inline, so building one allocates nothing.
class NvList {
 public:
  void add(std::string_view name, std::string_view value) {
    nghttp2_nv nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                  NGHTTP2_NV_FLAG_NONE};
    if (size_ < kInline) {
      inline_[size_++] = nv;
      return;
    }
    if (overflow_.empty()) overflow_.assign(inline_.begin(), inline_.end());
    overflow_.push_back(nv);
    ++size_;
  }
  const nghttp2_nv* data() const { return overflow_.empty() ? inline_.data() : overflow_.data(); }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kInline = 24;
  std::array<nghttp2_nv, kInline> inline_;
  std::vector<nghttp2_nv> overflow_;  // all of them, once there are more than kInline
  size_t size_ = 0;
};

// Hop-by-hop headers that HTTP/2 forbids (RFC 9113 8.2.2); "te: trailers" is allowed.
inline bool is_connection_specific(std::string_view name, std::string_view value) {
  if (name == "te") return value != "trailers";
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

}  // namespace grpc_ingress
