#include "dataplane/forwarded_headers.h"

#include "dataplane/proxy_stream.h"

#include "common/text.h"

#include <string_view>

namespace grpc_ingress {
namespace {

constexpr std::string_view kForwardedFor = "x-forwarded-for";
constexpr std::string_view kRealIp = "x-real-ip";
constexpr std::string_view kForwardedProto = "x-forwarded-proto";
constexpr std::string_view kForwardedHost = "x-forwarded-host";
constexpr std::string_view kForwardedPort = "x-forwarded-port";

// One entry of a forwarded-for list: "203.0.113.7", "2001:db8::1", or with a
// port as some proxies write it, "203.0.113.7:5678", "[2001:db8::1]:443".
// On success `item` is narrowed to the address.
std::optional<IpAddress> parse_forwarded(std::string_view& item) {
  if (auto address = IpAddress::parse(item)) return address;
  std::string_view bare;
  if (item.front() == '[') {
    auto close = item.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    bare = item.substr(1, close - 1);
    auto address = IpAddress::parse(bare, IpFamily::kV6);
    if (!address) return std::nullopt;
    item = bare;
    return address;
  }
  auto colon = item.find(':');
  if (colon == std::string_view::npos || item.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
  bare = item.substr(0, colon);
  auto address = IpAddress::parse(bare, IpFamily::kV4);
  if (!address) return std::nullopt;
  item = bare;
  return address;
}

struct Client {
  IpAddress address;
  std::string_view text;
};

// nginx's real_ip_recursive: from the right of the forwarded-for list (its
// fields in order, as one list), the first address that is not a trusted
// proxy; every address trusted: the left-most. An entry that is not an
// address ends the walk at the last good one.
Client rightmost_untrusted(const HeaderList& headers, std::string_view name, const std::vector<IpRange>& trusted,
                           Client connection) {
  Client client = connection;
  for (size_t i = headers.size(); i-- > 0;) {
    if (headers[i].name != name) continue;
    std::string_view list = headers[i].value;
    while (!list.empty()) {
      auto comma = list.rfind(',');
      std::string_view item = trim_blanks(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      if (item.empty()) continue;
      auto address = parse_forwarded(item);
      if (!address) return client;
      client = {*address, item};
      if (!contains_any(trusted, *address)) return client;
    }
  }
  return client;
}

}  // namespace

void apply_client_identity(ProxyStream& stream, const ClientIdentityOptions& options) {
  const DownstreamPeer* peer = stream.peer.get();
  const Client connection = peer && peer->known ? Client{peer->address, peer->address_text}
                                                : Client{stream.client_address, stream.client_address_text};
  const bool known = peer ? peer->known : !connection.text.empty();
  const bool trusted =
      !options.trusted_proxies.empty() && known && contains_any(options.trusted_proxies, connection.address);
  const std::string_view named_by = options.forwarded_for_header;
  const bool own_name = named_by != kForwardedFor;  // a header other than x-forwarded-for names the client

  HeaderList& headers = stream.request_headers;
  bool has_for = false, has_real_ip = false, has_proto = false, has_host = false, has_port = false, has_named = false;
  for (const Header& header : headers) {
    std::string_view name = header.name;
    if (own_name && name == named_by) has_named = true;
    if (name.size() < kRealIp.size() || name[0] != 'x') continue;
    if (name == kForwardedFor) {
      has_for = true;
    } else if (name == kRealIp) {
      has_real_ip = true;
    } else if (name == kForwardedProto) {
      has_proto = true;
    } else if (name == kForwardedHost) {
      has_host = true;
    } else if (name == kForwardedPort) {
      has_port = true;
    }
  }
  if (!own_name) has_named = has_for;

  Client client = connection;
  if (trusted && has_named) {
    client = rightmost_untrusted(headers, named_by, options.trusted_proxies, connection);
    if (client.text.data() != connection.text.data()) {
      stream.client_address = client.address;
      stream.client_address_text = client.text = stream.keep(client.text);
    }
  } else {
    stream.client_address = connection.address;
    stream.client_address_text = connection.text;
  }

  // x-forwarded-for: the client; or, from a trusted proxy with
  // --compute-full-forwarded-for, its list with the connection's address added.
  std::string_view forwarded_for = client.text;
  static thread_local std::string chain;  // grows to the longest list once per thread
  if (trusted && options.compute_full_forwarded_for) {
    chain.clear();
    for (const Header& header : headers) {
      if (header.name != named_by) continue;
      std::string_view list = trim_blanks(header.value);
      if (list.empty()) continue;
      if (!chain.empty()) chain += ", ";
      chain += list;
    }
    if (!connection.text.empty()) {
      if (!chain.empty()) chain += ", ";
      chain += connection.text;
    }
    forwarded_for = chain;
  }
  if (has_for) headers.remove(kForwardedFor);
  if (own_name && has_named && !trusted) headers.remove(named_by);  // spoofed: not for the pod either
  if (!forwarded_for.empty()) headers.push_back({kForwardedFor, forwarded_for});

  if (has_real_ip) headers.remove(kRealIp);
  if (!client.text.empty()) headers.push_back({kRealIp, client.text});

  // A trusted proxy knows how and where the client came in; anyone else's word is dropped.
  if (!(trusted && has_proto)) {
    if (has_proto) headers.remove(kForwardedProto);
    headers.push_back({kForwardedProto, stream.downstream_tls ? std::string_view("https") : std::string_view("http")});
  }
  if (!(trusted && has_host)) {
    if (has_host) headers.remove(kForwardedHost);
    if (!stream.authority.empty()) headers.push_back({kForwardedHost, stream.authority});
  }
  if (!trusted && has_port) headers.remove(kForwardedPort);
}

}  // namespace grpc_ingress
