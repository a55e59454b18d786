#pragma once

// http-pod: one accepted connection served as HTTP/2 (libnghttp2) or
// HTTP/1.1 (Boost.Beast), over TCP or TLS. Each session runs on the strand
// its socket was accepted on and lives as long as its pending operations.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstdint>
#include <string>

namespace grpc_ingress::testing::http_pod {

using TcpStream = boost::asio::ip::tcp::socket;
using TlsStream = boost::asio::ssl::stream<TcpStream>;

// `connection` is the per-process connection number; `already_read` the bytes
// taken from the connection to tell the protocol (empty over TLS, where ALPN
// decides). Stream is TcpStream or TlsStream.
template <class Stream>
void serve_h2(Stream stream, uint64_t connection, std::string already_read);
template <class Stream>
void serve_h1(Stream stream, uint64_t connection, std::string already_read);

inline bool is_tls(const TcpStream&) { return false; }
inline bool is_tls(const TlsStream&) { return true; }
inline TcpStream& socket_of(TcpStream& stream) { return stream; }
inline TcpStream& socket_of(TlsStream& stream) { return stream.next_layer(); }

}  // namespace grpc_ingress::testing::http_pod
