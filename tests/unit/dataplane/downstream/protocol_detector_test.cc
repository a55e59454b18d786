#include "dataplane/downstream/protocol_detector.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("the connection preface decides HTTP/2, HTTP/1.x or neither as soon as it can") {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  CHECK(classify_preface("") == PrefaceKind::kNeedMore);
  CHECK(classify_preface("PRI * HT") == PrefaceKind::kNeedMore);
  CHECK(classify_preface(preface) == PrefaceKind::kHttp2);
  CHECK(classify_preface(preface + "\x00\x00\x12\x04") == PrefaceKind::kHttp2);
  // An HTTP/1.x request is known from its method, without waiting for 24 bytes.
  CHECK(classify_preface("G") == PrefaceKind::kNeedMore);
  CHECK(classify_preface("GET ") == PrefaceKind::kHttp1);
  CHECK(classify_preface("POST / HTTP/1.1\r\n") == PrefaceKind::kHttp1);
  CHECK(classify_preface("M-SEARCH * HTTP/1.1\r\n") == PrefaceKind::kHttp1);
  // "PRI" as an HTTP/1.1 method differs later, still before 24 bytes.
  CHECK(classify_preface("PRI / HTTP/1.1") == PrefaceKind::kHttp1);
  // Looks like a request line gone wrong: the HTTP/1.1 parser answers 400.
  CHECK(classify_preface("FOO\r\n\r\n") == PrefaceKind::kHttp1);
}

TEST_CASE("bytes that are neither the HTTP/2 preface nor an HTTP/1.x request line are garbage") {
  CHECK(classify_preface(std::string("\x16\x03\x01\x02\x00", 5)) == PrefaceKind::kGarbage);  // a TLS ClientHello
  CHECK(classify_preface(std::string("\x00\x00\x00", 3)) == PrefaceKind::kGarbage);
  CHECK(classify_preface(" GET / HTTP/1.1") == PrefaceKind::kGarbage);       // no method before the space
  CHECK(classify_preface("GE\x01T / HTTP/1.1") == PrefaceKind::kGarbage);    // a control byte in the method
  CHECK(classify_preface(std::string(40, 'A')) == PrefaceKind::kGarbage);    // no method is that long
  CHECK(classify_preface(std::string(32, 'A')) == PrefaceKind::kNeedMore);   // still could be one
}
