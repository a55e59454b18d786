// ssl-client-* headers toward the pod: set as ingress-nginx sets them on
// routes that ask for client certificates, and never taken from the client.

#include "dataplane/client_certificate_headers.h"

#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;

namespace {

Route route_with(std::optional<AccessPolicy> access) {
  Route route;
  if (access) route.access.value = std::make_shared<const AccessPolicy>(*access);
  return route;
}

AccessPolicy asking(ClientCertMode mode, bool pass = false) {
  AccessPolicy policy;
  policy.client_cert = mode;
  policy.pass_client_cert = pass;
  return policy;
}

std::shared_ptr<DownstreamPeer> peer_with(std::optional<ClientCertificate> certificate) {
  auto peer = std::make_shared<DownstreamPeer>();
  peer->certificate = std::move(certificate);
  return peer;
}

ClientCertificate good() {
  ClientCertificate c;
  c.presented = c.verified = true;
  c.verify_header = "SUCCESS";
  c.subject = "CN=client-a,O=Tests";
  c.issuer = "CN=ca-a";
  c.escaped_pem = "-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A";
  return c;
}

std::string value(const ProxyStream& stream, std::string_view name) {
  const std::string_view* found = stream.request_headers.find(name);
  return found ? std::string(*found) : "<absent>";
}

size_t count(const ProxyStream& stream, std::string_view name) {
  size_t n = 0;
  for (const Header& header : stream.request_headers) n += header.name == name;
  return n;
}

// A stream as the router has it before forwarding, with a client's forged headers.
std::shared_ptr<ProxyStream> forged_stream() {
  auto stream = ProxyStream::make(1, 1, std::weak_ptr<DownstreamSide>());
  stream->request_headers.push_back({"ssl-client-verify", "SUCCESS"});
  stream->request_headers.push_back({"x-keep", "1"});
  stream->request_headers.push_back({"ssl-client-subject-dn", "CN=admin"});
  stream->request_headers.push_back({"ssl-client-issuer-dn", "CN=trusted"});
  stream->request_headers.push_back({"ssl-client-cert", "forged"});
  return stream;
}

}  // namespace

TEST_CASE("a client's own ssl-client-* headers never reach the pod, whatever the route") {
  for (std::optional<AccessPolicy> access : {std::optional<AccessPolicy>(), std::optional<AccessPolicy>(AccessPolicy{})}) {
    Route route = route_with(access);
    auto stream = forged_stream();
    stream->route = &route;
    stream->set_peer(peer_with(good()));  // even with a certificate: the route does not ask
    set_client_certificate_headers(*stream);
    CHECK(stream->request_headers.size() == 1);
    CHECK(value(*stream, "x-keep") == "1");
  }
}

TEST_CASE("a route asking for client certificates tells the pod what the handshake found") {
  Route route = route_with(asking(ClientCertMode::kOn));
  auto stream = forged_stream();
  stream->route = &route;
  stream->set_peer(peer_with(good()));
  set_client_certificate_headers(*stream);
  CHECK(count(*stream, "ssl-client-verify") == 1);
  CHECK(value(*stream, "ssl-client-verify") == "SUCCESS");
  CHECK(value(*stream, "ssl-client-subject-dn") == "CN=client-a,O=Tests");
  CHECK(value(*stream, "ssl-client-issuer-dn") == "CN=ca-a");
  CHECK(value(*stream, "ssl-client-cert") == "<absent>");  // not passed without the annotation
  CHECK(value(*stream, "x-keep") == "1");
}

TEST_CASE("pass-certificate-to-upstream adds the escaped PEM, a failed or missing certificate says so") {
  Route route = route_with(asking(ClientCertMode::kOptionalNoCa, true));
  {
    auto stream = forged_stream();
    stream->route = &route;
    stream->set_peer(peer_with(good()));
    set_client_certificate_headers(*stream);
    CHECK(value(*stream, "ssl-client-cert") == good().escaped_pem);
    CHECK(count(*stream, "ssl-client-cert") == 1);
  }
  {
    ClientCertificate failed = good();
    failed.verified = false;
    failed.verify_error = "self-signed certificate";
    failed.verify_header = "FAILED:self-signed certificate";
    auto stream = forged_stream();
    stream->route = &route;
    stream->set_peer(peer_with(failed));
    set_client_certificate_headers(*stream);
    CHECK(value(*stream, "ssl-client-verify") == "FAILED:self-signed certificate");
    CHECK(value(*stream, "ssl-client-subject-dn") == "CN=client-a,O=Tests");
  }
  for (std::optional<ClientCertificate> none : {std::optional<ClientCertificate>(),
                                                 std::optional<ClientCertificate>(ClientCertificate{})}) {
    auto stream = forged_stream();
    stream->route = &route;
    stream->set_peer(peer_with(none));
    set_client_certificate_headers(*stream);
    CHECK(value(*stream, "ssl-client-verify") == "NONE");
    CHECK(value(*stream, "ssl-client-subject-dn") == "<absent>");
    CHECK(value(*stream, "ssl-client-cert") == "<absent>");
  }
}

TEST_CASE("a certificate judged for one TLS server name serves another host only under the same client authority") {
  auto table = std::make_shared<RouteTable>();
  table->tls.client_authorities["a.example"] = {"default/ca-a", "A", ClientCertMode::kOn, 1};
  table->tls.client_authorities["*.w.example"] = {"default/ca-a", "A", ClientCertMode::kOn, 1};
  table->tls.client_authorities["b.example"] = {"default/ca-b", "B", ClientCertMode::kOn, 1};
  table->tls.client_authorities["deep.example"] = {"default/ca-a", "A", ClientCertMode::kOn, 3};
  ClientCertificate certificate = good();
  certificate.server_name = "a.example";
  auto judged = [&](std::string_view authority) {
    auto stream = ProxyStream::make(1, 1, std::weak_ptr<DownstreamSide>());
    stream->table = table;
    stream->authority = authority;
    return certificate_judged_for_host(*stream, certificate);
  };
  CHECK(judged("a.example"));
  CHECK(judged("A.Example:8443"));
  CHECK(judged("a.example."));
  CHECK_FALSE(judged("b.example"));     // another CA
  CHECK_FALSE(judged("deep.example"));  // the same CA, another depth
  CHECK_FALSE(judged("open.example"));  // asks nothing: not a host this certificate was judged for
  CHECK_FALSE(judged(""));
  certificate.server_name = "x.w.example";
  CHECK(judged("y.w.example"));  // one wildcard authority
  CHECK_FALSE(judged("a.example.evil"));
  certificate.server_name = "";
  CHECK_FALSE(judged("a.example"));
}
