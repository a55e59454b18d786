#include "controller/kube_client.h"

#include "tests/unit/temp_dir.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace grpc_ingress;
using grpc_ingress::testing::UnitTempDir;

namespace {

std::vector<std::string> feed_all(LineSplitter& splitter, const std::vector<std::string>& pieces, Status* last = nullptr) {
  std::vector<std::string> lines;
  for (const std::string& piece : pieces) {
    Status status = splitter.feed(piece, [&](std::string_view line) { lines.emplace_back(line); });
    if (last) *last = status;
    if (!status) break;
  }
  return lines;
}

}  // namespace

TEST_CASE("watch lines are cut at newlines however the bytes arrive") {
  LineSplitter splitter(1024);
  auto lines = feed_all(splitter, {"{\"type\":\"ADD", "ED\"}\n{\"type\":\"BOOKMARK\"}\r\n\n{\"a\"", ":1}\n{\"partial"});
  CHECK(lines == std::vector<std::string>{"{\"type\":\"ADDED\"}", "{\"type\":\"BOOKMARK\"}", "{\"a\":1}"});
  CHECK(splitter.buffered() == std::string("{\"partial").size());
}

TEST_CASE("a watch line longer than the bound is an error, whether it arrives whole or in pieces") {
  LineSplitter whole(8);
  Status status = Ok{};
  auto lines = feed_all(whole, {"short\n0123456789\n"}, &status);
  CHECK(lines == std::vector<std::string>{"short"});
  CHECK_FALSE(status);

  LineSplitter pieces(8);
  lines = feed_all(pieces, {"01234", "56789"}, &status);
  CHECK(lines.empty());
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().message, Catch::Contains("longer than 8 bytes"));
}

TEST_CASE("a token file is re-read when it changes, and after a 401 even when it looks unchanged") {
  UnitTempDir dir;
  auto file = dir.write("token", "first\n");
  BearerToken token("inline", file);
  CHECK(token.reloadable());
  CHECK(token.current() == "first");  // the file wins over the inline token

  dir.write("token", "second");  // a rotation is a new file renamed in: a new inode
  CHECK(token.current() == "second");

  // Rewritten in place with the same size within the same mtime tick: only a
  // 401 tells us; invalidate() makes the next request read it again.
  {
    std::ofstream(file, std::ios::binary | std::ios::in | std::ios::out) << "third!";
  }
  token.invalidate();
  CHECK(token.current() == "third!");
}

TEST_CASE("a token file that cannot be read keeps the last good token") {
  UnitTempDir dir;
  auto file = dir.write("token", "good");
  BearerToken token("", file);
  CHECK(token.current() == "good");
  std::filesystem::remove(file);
  CHECK(token.current() == "good");
  dir.write("token", "   \n");  // empty while being rewritten
  CHECK(token.current() == "good");
  dir.write("token", "fresh");
  CHECK(token.current() == "fresh");
}

TEST_CASE("an inline token is sent as it is") {
  BearerToken token("static", "");
  CHECK_FALSE(token.reloadable());
  CHECK(token.current() == "static");
}

TEST_CASE("a failed request is described by the Status message the API server sent") {
  CHECK(status_message(R"({"kind":"Status","code":403,"reason":"Forbidden","message":"secrets is forbidden"})") ==
        "secrets is forbidden");
  CHECK(status_message(R"({"kind":"Status","code":410,"reason":"Expired"})") == "Expired");
  CHECK(status_message("<html>bad gateway</html>") == "<html>bad gateway</html>");
  CHECK(status_message("") == "(empty body)");
  CHECK(status_message(std::string(1000, 'x')).size() == 200);
}

TEST_CASE("a client is not created from a CA or client key that does not load") {
  boost::asio::io_context io;
  KubeConfig config;
  config.host = "127.0.0.1";
  config.ca_pem = "not a certificate";
  auto client = KubeClient::create(io, config);
  REQUIRE_FALSE(client);
  CHECK_THAT(client.error().message, Catch::Contains("certificate-authority"));

  config.ca_pem.clear();
  config.client_cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  config.client_key_pem = "nope";
  client = KubeClient::create(io, config);
  REQUIRE_FALSE(client);
  CHECK_THAT(client.error().message, Catch::Contains("client-certificate"));
}
