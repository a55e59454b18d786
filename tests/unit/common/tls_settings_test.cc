#include "common/tls_settings.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("an SNI name finds its certificate: exact host, then a one-label wildcard") {
  TlsSettings settings;
  settings.certificates["api.example.com"] = {"default/api", "A", "a"};
  settings.certificates["*.example.com"] = {"default/wild", "W", "w"};

  CHECK(settings.find("api.example.com")->secret == "default/api");
  CHECK(settings.find("API.Example.COM.")->secret == "default/api");  // case and a trailing dot
  CHECK(settings.find("web.example.com")->secret == "default/wild");
  CHECK(settings.find("a.b.example.com") == nullptr);  // the wildcard covers one label only
  CHECK(settings.find("example.com") == nullptr);
  CHECK(settings.find("") == nullptr);
  CHECK(settings.find("other.org") == nullptr);
}

TEST_CASE("an SNI name finds its client authority as it finds its certificate") {
  TlsSettings settings;
  settings.client_authorities["api.example.com"] = {"default/api-ca", "A", ClientCertMode::kOn, 1};
  settings.client_authorities["*.example.com"] = {"default/wild-ca", "W", ClientCertMode::kOptional, 2};

  CHECK(settings.find_client_authority("API.example.com.")->secret == "default/api-ca");
  CHECK(settings.find_client_authority("web.example.com")->mode == ClientCertMode::kOptional);
  CHECK(settings.find_client_authority("a.b.example.com") == nullptr);
  CHECK(settings.find_client_authority("") == nullptr);
  CHECK(TlsSettings{}.find_client_authority("api.example.com") == nullptr);
}
