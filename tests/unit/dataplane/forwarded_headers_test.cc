#include "dataplane/forwarded_headers.h"

#include "dataplane/proxy_stream.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {

std::shared_ptr<const DownstreamPeer> peer_at(const std::string& address, bool proxy_protocol = false) {
  auto peer = std::make_shared<DownstreamPeer>();
  peer->address = peer->socket_address = IpAddress::from(address);
  peer->address_text = peer->address.to_string();
  peer->port = 40000;
  peer->known = true;
  peer->proxy_protocol = proxy_protocol;
  return peer;
}

ClientIdentityOptions trusting(const std::string& cidrs, bool full = false,
                               const std::string& header = "x-forwarded-for") {
  ClientIdentityOptions options;
  options.trusted_proxies = *parse_ip_ranges(cidrs);
  options.forwarded_for_header = header;
  options.compute_full_forwarded_for = full;
  return options;
}

// A request from `peer` with `headers`, judged under `options`.
std::shared_ptr<ProxyStream> judged(std::shared_ptr<const DownstreamPeer> peer, const HeaderList& headers,
                                    const ClientIdentityOptions& options, bool tls = false) {
  auto stream = ProxyStream::make(1, 1, std::weak_ptr<DownstreamSide>());
  stream->authority = "api.example.com";
  stream->downstream_tls = tls;
  stream->request_headers = headers;
  stream->set_peer(std::move(peer));
  apply_client_identity(*stream, options);
  return stream;
}

// Every value of header `name`, in order.
std::vector<std::string> values(const ProxyStream& stream, std::string_view name) {
  std::vector<std::string> out;
  for (const Header& header : stream.request_headers) {
    if (header.name == name) out.emplace_back(header.value);
  }
  return out;
}

using Values = std::vector<std::string>;

}  // namespace

TEST_CASE("without trusted proxies the client is the connection, and the pod gets X-Forwarded-* saying so") {
  auto stream = judged(peer_at("127.0.0.2"), {{"content-type", "application/grpc"}}, {});
  CHECK(stream->client_address == IpAddress::from("127.0.0.2"));
  CHECK(stream->client_address_text == "127.0.0.2");
  CHECK(values(*stream, "x-forwarded-for") == Values{"127.0.0.2"});
  CHECK(values(*stream, "x-real-ip") == Values{"127.0.0.2"});
  CHECK(values(*stream, "x-forwarded-proto") == Values{"http"});
  CHECK(values(*stream, "x-forwarded-host") == Values{"api.example.com"});
  CHECK(values(*stream, "content-type") == Values{"application/grpc"});
  // The text is the peer's own (made once per connection), not a copy per request.
  CHECK(stream->client_address_text.data() == stream->peer->address_text.data());
}

TEST_CASE("a TLS connection is x-forwarded-proto https whatever :scheme or the client claims") {
  auto stream = judged(peer_at("127.0.0.2"), {{"x-forwarded-proto", "http"}}, {}, /*tls=*/true);
  CHECK(values(*stream, "x-forwarded-proto") == Values{"https"});
}

TEST_CASE("an untrusted client's X-Forwarded-* and X-Real-IP are replaced, not forwarded, and do not name it") {
  HeaderList spoofed = {{"x-forwarded-for", "203.0.113.7"}, {"x-real-ip", "203.0.113.7"},
                        {"x-forwarded-for", "198.51.100.1"}, {"x-forwarded-proto", "https"},
                        {"x-forwarded-host", "admin.internal"}, {"x-forwarded-port", "443"}};
  for (const auto& options : {ClientIdentityOptions{}, trusting("10.0.0.0/8"), trusting("10.0.0.0/8", true)}) {
    auto stream = judged(peer_at("127.0.0.2"), spoofed, options);
    CHECK(stream->client_address_text == "127.0.0.2");
    CHECK(values(*stream, "x-forwarded-for") == Values{"127.0.0.2"});
    CHECK(values(*stream, "x-real-ip") == Values{"127.0.0.2"});
    CHECK(values(*stream, "x-forwarded-proto") == Values{"http"});
    CHECK(values(*stream, "x-forwarded-host") == Values{"api.example.com"});
    CHECK(values(*stream, "x-forwarded-port").empty());
  }
}

TEST_CASE("behind a trusted proxy the client is the right-most forwarded address that is not trusted") {
  auto options = trusting("127.0.0.3/32, 10.0.0.0/8");
  auto one = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.7"}}, options);
  CHECK(one->client_address == IpAddress::from("203.0.113.7"));
  CHECK(one->client_address_text == "203.0.113.7");
  CHECK(values(*one, "x-forwarded-for") == Values{"203.0.113.7"});
  CHECK(values(*one, "x-real-ip") == Values{"203.0.113.7"});

  // The client may have written its own entry first: the proxies' own entries decide.
  auto chain = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "1.1.1.1, 203.0.113.7,10.1.1.1 , 10.2.2.2"}}, options);
  CHECK(chain->client_address_text == "203.0.113.7");
  // Several fields are one list, in order.
  auto fields = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "1.1.1.1, 203.0.113.8"}, {"x-forwarded-for", "10.9.9.9"}},
                       options);
  CHECK(fields->client_address_text == "203.0.113.8");
  CHECK(values(*fields, "x-forwarded-for") == Values{"203.0.113.8"});
  // All trusted: the left-most.
  auto all = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "10.0.0.1, 10.0.0.2"}}, options);
  CHECK(all->client_address_text == "10.0.0.1");
  // IPv6 and entries with ports.
  auto v6 = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "[2001:db8::7]:443"}}, options);
  CHECK(v6->client_address == IpAddress::from("2001:db8::7"));
  CHECK(v6->client_address_text == "2001:db8::7");
  auto with_port = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.9:5678"}}, options);
  CHECK(with_port->client_address_text == "203.0.113.9");
  // Without the header the trusted proxy itself is the client.
  auto none = judged(peer_at("127.0.0.3"), {}, options);
  CHECK(none->client_address_text == "127.0.0.3");
  CHECK(values(*none, "x-forwarded-for") == Values{"127.0.0.3"});
}

TEST_CASE("an entry that is not an address ends the walk at the last good address") {
  auto options = trusting("127.0.0.3/32, 10.0.0.0/8");
  auto garbage_right = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.7, unknown"}}, options);
  CHECK(garbage_right->client_address_text == "127.0.0.3");
  auto garbage_middle = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.7, <script>, 10.0.0.5"}}, options);
  CHECK(garbage_middle->client_address_text == "10.0.0.5");
  auto garbage_left = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "zzz, 203.0.113.7"}}, options);
  CHECK(garbage_left->client_address_text == "203.0.113.7");
  auto empty_entries = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", " , ,203.0.113.7,,"}}, options);
  CHECK(empty_entries->client_address_text == "203.0.113.7");
}

TEST_CASE("a trusted proxy's X-Forwarded-Proto, -Host and -Port reach the pod, and X-Real-IP is always ours") {
  auto stream = judged(peer_at("127.0.0.3"),
                       {{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", "https"},
                        {"x-forwarded-host", "www.example.com"}, {"x-forwarded-port", "443"},
                        {"x-real-ip", "198.51.100.99"}},
                       trusting("127.0.0.3"));
  CHECK(values(*stream, "x-forwarded-proto") == Values{"https"});
  CHECK(values(*stream, "x-forwarded-host") == Values{"www.example.com"});
  CHECK(values(*stream, "x-forwarded-port") == Values{"443"});
  CHECK(values(*stream, "x-real-ip") == Values{"203.0.113.7"});
}

TEST_CASE("with --compute-full-forwarded-for the pod gets the trusted list and the connection's address") {
  auto options = trusting("127.0.0.3", /*full=*/true);
  auto stream = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.7"}}, options);
  CHECK(stream->client_address_text == "203.0.113.7");
  CHECK(values(*stream, "x-forwarded-for") == Values{"203.0.113.7, 127.0.0.3"});
  CHECK(values(*stream, "x-real-ip") == Values{"203.0.113.7"});
  auto fields = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "1.1.1.1 , 203.0.113.7"}, {"x-forwarded-for", " 10.0.0.1"}},
                       options);
  CHECK(values(*fields, "x-forwarded-for") == Values{"1.1.1.1 , 203.0.113.7, 10.0.0.1, 127.0.0.3"});
  auto none = judged(peer_at("127.0.0.3"), {}, options);
  CHECK(values(*none, "x-forwarded-for") == Values{"127.0.0.3"});
  // From an untrusted peer: only its own address.
  auto untrusted = judged(peer_at("127.0.0.2"), {{"x-forwarded-for", "203.0.113.7"}}, options);
  CHECK(values(*untrusted, "x-forwarded-for") == Values{"127.0.0.2"});
}

TEST_CASE("a PROXY protocol address is the connection's address: trusted or not by its own range") {
  // The balancer (socket 10.0.0.9) declared 127.0.0.3, which is trusted.
  auto declared = std::make_shared<DownstreamPeer>(*peer_at("127.0.0.3", /*proxy_protocol=*/true));
  declared->socket_address = IpAddress::from("10.0.0.9");
  auto trusted = judged(declared, {{"x-forwarded-for", "203.0.113.7"}}, trusting("127.0.0.3"));
  CHECK(trusted->client_address_text == "203.0.113.7");
  // Trusting the balancer's socket address alone does not trust what it declared.
  auto untrusted = judged(declared, {{"x-forwarded-for", "203.0.113.7"}}, trusting("10.0.0.9"));
  CHECK(untrusted->client_address_text == "127.0.0.3");
  CHECK(values(*untrusted, "x-forwarded-for") == Values{"127.0.0.3"});
}

TEST_CASE("another --forwarded-for-header names the client, and from an untrusted peer it is dropped") {
  auto options = trusting("127.0.0.3", false, "cf-connecting-ip");
  auto trusted = judged(peer_at("127.0.0.3"), {{"cf-connecting-ip", "203.0.113.7"}, {"x-forwarded-for", "9.9.9.9"}},
                        options);
  CHECK(trusted->client_address_text == "203.0.113.7");
  CHECK(values(*trusted, "x-forwarded-for") == Values{"203.0.113.7"});
  CHECK(values(*trusted, "cf-connecting-ip") == Values{"203.0.113.7"});
  auto full = judged(peer_at("127.0.0.3"), {{"cf-connecting-ip", "203.0.113.7"}},
                     trusting("127.0.0.3", true, "cf-connecting-ip"));
  CHECK(values(*full, "x-forwarded-for") == Values{"203.0.113.7, 127.0.0.3"});
  auto untrusted = judged(peer_at("127.0.0.2"), {{"cf-connecting-ip", "203.0.113.7"}}, options);
  CHECK(untrusted->client_address_text == "127.0.0.2");
  CHECK(values(*untrusted, "cf-connecting-ip").empty());
  CHECK(values(*untrusted, "x-forwarded-for") == Values{"127.0.0.2"});
}

TEST_CASE("the judged client outlives the request headers it was read from") {
  auto stream = judged(peer_at("127.0.0.3"), {{"x-forwarded-for", "203.0.113.7"}}, trusting("127.0.0.3"));
  stream->request_headers.clear();
  const std::string filler(64, 'z');
  stream->request_headers.push_back({"x-overwrite", filler});
  CHECK(stream->client_address_text == "203.0.113.7");
}
