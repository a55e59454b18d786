#include "dataplane/tls_redirect.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("the ssl-redirect URL keeps host and path, drops the cleartext port, names a port other than 443") {
  CHECK(tls_redirect_location("web.example", "/a?b=c", 443) == "https://web.example/a?b=c");
  CHECK(tls_redirect_location("web.example:8080", "/", 443) == "https://web.example/");
  CHECK(tls_redirect_location("web.example:8080", "/x", 8443) == "https://web.example:8443/x");
  CHECK(tls_redirect_location("[::1]:8080", "/x", 443) == "https://[::1]/x");
}
