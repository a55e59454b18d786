#include "dataplane/downstream/protocol_detector.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("the connection preface decides the protocol at the first byte that differs") {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  CHECK(classify_preface("") == PrefaceKind::kNeedMore);
  CHECK(classify_preface("PRI * HT") == PrefaceKind::kNeedMore);
  CHECK(classify_preface(preface) == PrefaceKind::kHttp2);
  CHECK(classify_preface(preface + "\x00\x00\x12\x04") == PrefaceKind::kHttp2);
  // An HTTP/1.1 request is known from its first byte, without waiting for 24.
  CHECK(classify_preface("G") == PrefaceKind::kOther);
  CHECK(classify_preface("POST / HTTP/1.1\r\n") == PrefaceKind::kOther);
  // "PRI" as an HTTP/1.1 method differs later, still before 24 bytes.
  CHECK(classify_preface("PRI / HTTP/1.1") == PrefaceKind::kOther);
  CHECK(classify_preface("\x16\x03\x01") == PrefaceKind::kOther);  // a TLS ClientHello
}
