#include "common/tls_certificate.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("a self-signed certificate passes the check the TLS listener makes") {
  auto made = make_self_signed_certificate("web.example");
  REQUIRE(made);
  CHECK(made->cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(made->key_pem.find("PRIVATE KEY-----") != std::string::npos);
  auto info = check_certificate(made->cert_pem, made->key_pem);
  REQUIRE(info);
  CHECK(info->subject.find("CN=web.example") != std::string::npos);
  auto days_left = std::chrono::duration_cast<std::chrono::hours>(info->not_after - std::chrono::system_clock::now()).count() / 24;
  CHECK(days_left >= 364);
  CHECK(days_left <= 366);
}

TEST_CASE("a broken certificate or key is refused with the reason") {
  auto a = make_self_signed_certificate("a.example");
  auto b = make_self_signed_certificate("b.example");
  REQUIRE(a);
  REQUIRE(b);

  auto mismatched = check_certificate(a->cert_pem, b->key_pem);
  REQUIRE_FALSE(mismatched);
  CHECK(mismatched.error().message.find("does not match") != std::string::npos);

  auto no_cert = check_certificate("not a certificate", a->key_pem);
  REQUIRE_FALSE(no_cert);
  CHECK(no_cert.error().message.find("tls.crt") != std::string::npos);

  auto no_key = check_certificate(a->cert_pem, "");
  REQUIRE_FALSE(no_key);
  CHECK(no_key.error().message.find("tls.key") != std::string::npos);

  // A chain whose second certificate is corrupt.
  std::string chain = a->cert_pem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  auto bad_chain = check_certificate(chain, a->key_pem);
  REQUIRE_FALSE(bad_chain);
  CHECK(bad_chain.error().message.find("does not parse") != std::string::npos);

  // A chain of two good certificates passes.
  CHECK(check_certificate(a->cert_pem + b->cert_pem, a->key_pem));
}
