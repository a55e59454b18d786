// gRPC-Web as a browser sends it (binary and text), translated to gRPC for the
// pod and back, with CORS preflight; curl plays the browser over HTTP/2.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

namespace grpc_ingress::testing {
namespace {

// A protobuf string field (tag byte + one-byte length: short strings only).
std::string field(uint8_t tag, const std::string& value) {
  return std::string(1, static_cast<char>(tag)) + static_cast<char>(value.size()) + value;
}

// One length-prefixed gRPC message.
std::string frame(const std::string& message, uint8_t flags = 0) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flags);
  out[4] = static_cast<char>(message.size());
  out[3] = static_cast<char>(message.size() >> 8);
  return out + message;
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// Decodes base64 made of separately padded chunks, four characters at a time.
std::string unbase64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  for (size_t i = 0; i + 4 <= text.size(); i += 4) {
    uint32_t n = 0;
    int pads = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=') ++pads;
      n = (n << 6) | static_cast<uint32_t>(c == '=' ? 0 : value(c));
    }
    out += static_cast<char>(n >> 16);
    if (pads < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pads < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

struct WebResponse {
  std::string headers;                // as curl -D wrote them
  std::vector<std::string> messages;  // data frames' payloads
  std::string trailers;               // the trailer frame's text
};

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// POSTs `body` with curl over h2c prior knowledge, as a gRPC-Web client.
// `split_at` (text only): the body is sent as two base64 texts, each padded on
// its own, the first holding that many bytes, as the spec lets a client chunk it.
WebResponse call(const TempDir& tmp, const Ingress& ingress, const std::string& method, const std::string& body,
                 bool text, const std::string& http = "--http2-prior-knowledge", size_t split_at = 0) {
  auto request_file = tmp.path() / "web-request";
  auto response_file = tmp.path() / "web-response";
  auto headers_file = tmp.path() / "web-headers";
  std::string encoded = split_at ? base64(body.substr(0, split_at)) + base64(body.substr(split_at)) : base64(body);
  std::ofstream(request_file, std::ios::binary) << (text ? encoded : body);
  std::string content_type = text ? "application/grpc-web-text" : "application/grpc-web+proto";
  run("curl -s --max-time 5 " + http + " -X POST -H 'content-type: " + content_type +
      "' -H 'x-grpc-web: 1' -H 'origin: https://app.example.com' --data-binary @" + request_file.string() +
      " -D " + headers_file.string() + " -o " + response_file.string() + " http://" + ingress.target() + method);
  WebResponse out;
  std::ifstream headers(headers_file);
  out.headers.assign(std::istreambuf_iterator<char>(headers), {});
  std::ifstream response(response_file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(response)), {});
  if (text) bytes = unbase64(bytes);
  for (size_t i = 0; i + 5 <= bytes.size();) {
    size_t size = (static_cast<uint8_t>(bytes[i + 1]) << 24) | (static_cast<uint8_t>(bytes[i + 2]) << 16) |
                  (static_cast<uint8_t>(bytes[i + 3]) << 8) | static_cast<uint8_t>(bytes[i + 4]);
    std::string payload = bytes.substr(i + 5, size);
    if (static_cast<uint8_t>(bytes[i]) & 0x80) {
      out.trailers += payload;
    } else {
      out.messages.push_back(payload);
    }
    i += 5 + size;
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("gRPC-Web unary and server-streaming calls, binary and text, return the pod's messages and status",
          "[proxy][grpc-web]") {
  OneService setup("greeter", kGreeterPath, 1);
  setup.manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"},
                                           {.path = kEchoPath, .service = "greeter"}},
                                 .annotations = {{"grpc-ingress.io/cors-allow-origin", "https://app.example.com"}}});
  REQUIRE(setup.ingress->wait_for_routes_containing("corsAllowOrigin", 5s));

  for (bool text : {false, true}) {
    DYNAMIC_SECTION((text ? "grpc-web-text" : "grpc-web binary")) {
      WebResponse unary = call(setup.tmp, *setup.ingress, "/helloworld.Greeter/SayHello", frame(field(0x0a, "web")), text);
      INFO("headers:\n" << unary.headers);
      CHECK(contains(unary.headers, "HTTP/2 200"));
      CHECK(contains(unary.headers, text ? "content-type: application/grpc-web-text+proto"
                                         : "content-type: application/grpc-web+proto"));
      CHECK(contains(unary.headers, "access-control-allow-origin: https://app.example.com"));
      REQUIRE(unary.messages.size() == 1);
      CHECK(contains(unary.messages[0], "Hello web from greeter-0"));
      CHECK(contains(unary.trailers, "grpc-status: 0"));

      if (text) {
        // The same call, its body as two base64 texts each with its own padding
        // (the 5-byte frame header alone: "AAAAAAk=" then the message).
        WebResponse chunked = call(setup.tmp, *setup.ingress, "/helloworld.Greeter/SayHello",
                                   frame(field(0x0a, "web")), true, "--http2-prior-knowledge", 5);
        INFO("headers:\n" << chunked.headers);
        REQUIRE(chunked.messages.size() == 1);
        CHECK(contains(chunked.messages[0], "Hello web from greeter-0"));
        CHECK(contains(chunked.trailers, "grpc-status: 0"));
      }

      // Echo.ServerStream: message "m", count 3.
      std::string request = field(0x0a, "m") + std::string("\x10\x03", 2);
      WebResponse stream = call(setup.tmp, *setup.ingress, "/grpc_ingress.test.Echo/ServerStream", frame(request), text);
      INFO("headers:\n" << stream.headers);
      CHECK(stream.messages.size() == 3);
      for (const std::string& message : stream.messages) CHECK(contains(message, "greeter-0"));
      CHECK(contains(stream.trailers, "grpc-status: 0"));

      // A status from the pod arrives in the trailer frame: fail_code 5 (NOT_FOUND).
      std::string failing = field(0x0a, "m") + std::string("\x30\x05", 2) + field(0x3a, "nothing here");
      WebResponse failed = call(setup.tmp, *setup.ingress, "/grpc_ingress.test.Echo/Unary", frame(failing), text);
      INFO("headers:\n" << failed.headers << "trailers: " << failed.trailers);
      CHECK((contains(failed.trailers, "grpc-status: 5") || contains(failed.headers, "grpc-status: 5")));
    }
  }
}

TEST_CASE("gRPC-Web text over HTTP/1.1, as browsers send it, reaches the pod and returns its messages and status",
          "[proxy][grpc-web]") {
  OneService setup("greeter", kGreeterPath, 1);
  setup.manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"},
                                           {.path = kEchoPath, .service = "greeter"}}});
  REQUIRE(setup.ingress->wait_for_routes_containing(kEchoPath, 5s));
  for (bool text : {true, false}) {
    WebResponse unary =
        call(setup.tmp, *setup.ingress, "/helloworld.Greeter/SayHello", frame(field(0x0a, "h1")), text, "--http1.1");
    INFO("headers:\n" << unary.headers);
    CHECK(contains(unary.headers, "HTTP/1.1 200"));
    REQUIRE(unary.messages.size() == 1);
    CHECK(contains(unary.messages[0], "Hello h1 from greeter-0"));
    CHECK(contains(unary.trailers, "grpc-status: 0"));
    WebResponse stream = call(setup.tmp, *setup.ingress, "/grpc_ingress.test.Echo/ServerStream",
                              frame(field(0x0a, "m") + std::string("\x10\x05", 2)), text, "--http1.1");
    CHECK(stream.messages.size() == 5);
    CHECK(contains(stream.trailers, "grpc-status: 0"));
  }
}

TEST_CASE("gRPC-Web CORS preflight is answered for the allowed origin, grpc-web off answers 415", "[proxy][grpc-web]") {
  OneService setup("greeter", kGreeterPath, 1);
  setup.manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}},
                                 .annotations = {{"grpc-ingress.io/cors-allow-origin", "*"}}});
  REQUIRE(setup.ingress->wait_for_routes_containing("corsAllowOrigin", 5s));
  std::string preflight = run("curl -s --max-time 5 --http2-prior-knowledge -X OPTIONS -o /dev/null -D - "
                              "-H 'origin: https://any.example.com' "
                              "-H 'access-control-request-method: POST' "
                              "-H 'access-control-request-headers: content-type,x-grpc-web' http://" +
                              setup.ingress->target() + "/helloworld.Greeter/SayHello");
  INFO(preflight);
  CHECK(contains(preflight, "HTTP/2 204"));
  CHECK(contains(preflight, "access-control-allow-origin: *"));
  CHECK(contains(preflight, "access-control-allow-headers: content-type,x-grpc-web"));
  CHECK(contains(preflight, "access-control-allow-methods: POST"));

  setup.manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}},
                                 .annotations = {{"grpc-ingress.io/grpc-web", "false"}}});
  REQUIRE(setup.ingress->wait_for_routes_containing("\"grpcWeb\": false", 5s));
  // /debug/routes shows the table published; a worker may take a moment more to apply it.
  WebResponse off;
  CHECK(wait_until([&] {
    off = call(setup.tmp, *setup.ingress, "/helloworld.Greeter/SayHello", frame(field(0x0a, "web")), false);
    return contains(off.headers, "HTTP/2 415");
  }, 3s, 100ms));
  INFO(off.headers);
  // Ordinary gRPC still works on that route.
  auto stub = helloworld::Greeter::NewStub(setup.channel());
  CHECK(say_hello(*stub).ok());
}

}  // namespace grpc_ingress::testing
