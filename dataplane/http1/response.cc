#include "dataplane/http1/response.h"

#include <boost/beast/http/status.hpp>

#include <charconv>
#include <cstdio>

namespace grpc_ingress {

H1ResponseHead frame_response(std::string_view method, int version, int status,
                              std::optional<uint64_t> complete_body,
                              std::optional<uint64_t> declared_length) {
  H1ResponseHead head;
  head.status = status;
  head.version = version;
  if (method == "HEAD" || status < 200 || status == 204 || status == 304) {
    head.framing = H1Framing::kNone;
  } else if (complete_body) {
    head.framing = H1Framing::kContentLength;
    head.content_length = *complete_body;
  } else if (declared_length) {
    head.framing = H1Framing::kContentLength;
    head.content_length = *declared_length;
  } else if (version >= 11) {
    head.framing = H1Framing::kChunked;
  } else {
    head.framing = H1Framing::kUntilClose;
    head.keep_alive = false;
  }
  return head;
}

std::optional<uint64_t> content_length_of(const HeaderList& headers) {
  for (const Header& header : headers) {
    if (header.name != "content-length") continue;
    uint64_t value = 0;
    const char* end = header.value.data() + header.value.size();
    auto [ptr, ec] = std::from_chars(header.value.data(), end, value);
    if (ec != std::errc() || ptr != end || header.value.empty()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::string serialize_response_head(const H1ResponseHead& head, const HeaderList& headers) {
  auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(head.status));
  // Our version whatever the client's (RFC 9110 6.2); the framing suits it.
  std::string out = "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  if (reason == "<unknown-status>") {
    out += "Status";
  } else {
    out.append(reason.data(), reason.size());
  }
  out += "\r\n";
  for (const Header& header : headers) {
    // Framing and connection management are ours to write.
    if (header.name == "transfer-encoding" || header.name == "connection" || header.name == "keep-alive") continue;
    if (header.name == "content-length" && head.framing != H1Framing::kNone) continue;
    out += header.name;
    out += ": ";
    out += header.value;
    out += "\r\n";
  }
  if (head.framing == H1Framing::kContentLength) {
    out += "content-length: " + std::to_string(head.content_length) + "\r\n";
  } else if (head.framing == H1Framing::kChunked) {
    out += "transfer-encoding: chunked\r\n";
  }
  if (!head.keep_alive) {
    out += "connection: close\r\n";
  } else if (head.version < 11) {
    out += "connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

void append_chunk(std::string& out, const uint8_t* data, size_t size) {
  if (size == 0) return;  // a zero-size chunk would end the body
  char line[24];
  int n = std::snprintf(line, sizeof(line), "%zx\r\n", size);
  out.append(line, static_cast<size_t>(n));
  out.append(reinterpret_cast<const char*>(data), size);
  out += "\r\n";
}

void append_last_chunk(std::string& out, const HeaderList* trailers) {
  out += "0\r\n";
  if (trailers) {
    for (const Header& header : *trailers) {
      out += header.name;
      out += ": ";
      out += header.value;
      out += "\r\n";
    }
  }
  out += "\r\n";
}

}  // namespace grpc_ingress
