#include "dataplane/route_filters.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {

std::vector<std::string> fields(const HeaderList& headers) {
  std::vector<std::string> out;
  for (const Header& header : headers) out.push_back(std::string(header.name) + "=" + std::string(header.value));
  return out;
}

Route redirecting(Redirect redirect, std::string prefix = "/") {
  Route route{PathType::kPrefix, std::move(prefix), kNoCluster, "default", "r"};
  RouteFilters filters;
  filters.redirect = std::move(redirect);
  route.filters.value = std::make_shared<const RouteFilters>(std::move(filters));
  return route;
}

}  // namespace

TEST_CASE("header modifiers remove, then set (replacing every field of the name), then add", "[route_filters]") {
  HeaderList headers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}, {"x-gone", "4"}};
  HeaderEdits edits;
  edits.set = {{"x-a", "new"}};
  edits.add = {{"x-b", "more"}};
  edits.remove = {"x-gone"};
  edit_headers(headers, edits);
  CHECK(fields(headers) == std::vector<std::string>{"x-b=2", "x-a=new", "x-b=more"});
}

TEST_CASE("a redirect's Location keeps what the filter does not change", "[route_filters]") {
  // The Gateway API conformance cases of HTTPRouteRedirect*.
  CHECK(redirect_location(redirecting({.hostname = "example.org"}), "a.example.com", "/x?q=1", false) ==
        "http://example.org/x?q=1");
  CHECK(redirect_location(redirecting({.scheme = "https"}), "a.example.com:8080", "/x", false) ==
        "https://a.example.com/x");  // a scheme given: its well-known port
  CHECK(redirect_location(redirecting({}), "a.example.com:8080", "/x", false) == "http://a.example.com:8080/x");
  CHECK(redirect_location(redirecting({.port = 8443}), "a.example.com", "/x", true) == "https://a.example.com:8443/x");
  CHECK(redirect_location(redirecting({.port = 443}), "a.example.com", "/x", true) == "https://a.example.com/x");
  CHECK(redirect_location(redirecting({.path = {PathChange::Type::kPrefix, "/new"}}, "/old"), "h", "/old/a?b", false) ==
        "http://h/new/a?b");
  CHECK(redirect_location(redirecting({.path = {PathChange::Type::kFull, "/full"}}), "[::1]:80", "/x", false) ==
        "http://[::1]/full");
}
