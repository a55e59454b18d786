#include "common/route_table.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace grpc_ingress;

namespace {

VirtualHostPtr host_of(std::vector<Route> routes) {
  VirtualHost host{.routes = std::move(routes)};
  host.sort_routes();
  return std::make_shared<const VirtualHost>(std::move(host));
}

}  // namespace

TEST_CASE("prefix paths match element by element", "[route_table]") {
  struct Case {
    const char* rule;
    const char* path;
    bool matches;
  };
  const Case cases[] = {
      {"/", "/anything", true},
      {"/foo", "/foo", true},
      {"/foo", "/foo/", true},
      {"/foo", "/foo/bar", true},
      {"/foo", "/foobar", false},
      {"/foo/", "/foo", true},
      {"/aaa/bb", "/aaa/bbb", false},
      {"/helloworld.Greeter", "/helloworld.Greeter/SayHello", true},
      {"/helloworld.Greeter", "/helloworld.GreeterV2/SayHello", false},
  };
  for (const Case& c : cases) {
    INFO(c.rule << " vs " << c.path);
    CHECK(path_matches(PathType::kPrefix, c.rule, c.path) == c.matches);
  }
}

TEST_CASE("exact paths match only themselves", "[route_table]") {
  CHECK(path_matches(PathType::kExact, "/foo", "/foo"));
  CHECK_FALSE(path_matches(PathType::kExact, "/foo", "/foo/"));
  CHECK_FALSE(path_matches(PathType::kExact, "/foo", "/foo/bar"));
}

TEST_CASE("the most specific host decides, unmatched paths go to the default backend",
          "[route_table]") {
  RouteTable table;
  table.clusters.resize(4);
  table.exact_hosts["a.example.com"] = host_of({{PathType::kPrefix, "/x", 0, "", ""}});
  table.wildcard_hosts["*.example.com"] = host_of({{PathType::kPrefix, "/w", 1, "", ""}});
  table.any_host = host_of({{PathType::kPrefix, "/y", 2, "", ""}});
  table.default_route = Route{PathType::kPrefix, "/", 3, "", ""};

  CHECK(table.match("a.example.com", "/x/1")->cluster == 0);
  CHECK(table.match("A.Example.com:8080", "/x/1")->cluster == 0);
  CHECK(table.match("a.example.com", "/w")->cluster == 3);  // no fall-through to the wildcard
  CHECK(table.match("a.example.com", "/y")->cluster == 3);  // nor to host-less rules
  CHECK(table.match("b.example.com", "/w")->cluster == 1);
  CHECK(table.match("b.example.com", "/y")->cluster == 3);
  CHECK(table.match("c.b.example.com", "/y")->cluster == 2);  // wildcard covers one label only
  CHECK(table.match("example.com", "/y")->cluster == 2);
  CHECK(table.match("other", "/y?q=1")->cluster == 2);
  CHECK(table.match("other", "/z")->cluster == 3);
}

TEST_CASE("without a default backend an unmatched request has no route", "[route_table]") {
  RouteTable table;
  table.clusters.resize(1);
  table.exact_hosts["a.example.com"] = host_of({{PathType::kExact, "/x", 0, "", ""}});
  CHECK(table.match("a.example.com", "/x") != nullptr);
  CHECK(table.match("a.example.com", "/x/y") == nullptr);
  CHECK(table.match("b.example.com", "/x") == nullptr);
}

TEST_CASE("diff_clusters looks only at the slots a table names as changed from the one before it",
          "[route_table][incremental]") {
  auto cluster = [](std::string name) {
    Cluster out;
    out.name = std::move(name);
    return std::make_shared<const Cluster>(std::move(out));
  };
  RouteTable before;
  before.version = 7;
  before.clusters = {cluster("a"), cluster("b"), cluster("c"), cluster("d")};

  RouteTable after = before;
  after.version = 8;
  after.clusters[1] = cluster("b");  // rebuilt
  after.clusters[2] = nullptr;       // c left
  after.clusters.push_back(cluster("e"));

  ClusterDiff full = diff_clusters(&before, after);
  CHECK(full.changed == std::vector<uint32_t>{1, 4});
  CHECK(full.emptied == std::vector<uint32_t>{2});
  CHECK(full.gone == std::vector<std::string>{"c"});

  // Named by the builder: the same answer from those slots alone.
  after.base_version = 7;
  after.changed_clusters = {1, 2, 4};
  ClusterDiff hinted = diff_clusters(&before, after);
  CHECK(hinted.changed == full.changed);
  CHECK(hinted.emptied == full.emptied);
  CHECK(hinted.gone == full.gone);

  // The hint is trusted only against the table it was made from.
  after.changed_clusters = {1};
  CHECK(diff_clusters(&before, after).emptied.empty());  // slots not named are not looked at
  before.version = 6;
  CHECK(diff_clusters(&before, after).changed == full.changed);  // another base: a full look
}

namespace {

// Request headers as the data plane offers them to match().
struct Headers {
  std::map<std::string, std::string> fields;
  const std::string_view* find(std::string_view name) const {
    auto it = fields.find(std::string(name));
    if (it == fields.end()) return nullptr;
    view = it->second;
    return &view;
  }
  mutable std::string_view view;
};

Route gateway_route(PathType type, std::string path, uint32_t cluster) {
  Route route{type, std::move(path), cluster, "default", "r"};
  route.kind = RouteKind::kGRPCRoute;
  route.deep_wildcard = true;
  return route;
}

Route with(RouteConditions conditions, Route route) {
  route.conditions.value = std::make_shared<const RouteConditions>(std::move(conditions));
  return route;
}

ValueCondition exact(std::string name, std::string value) { return {std::move(name), std::move(value), {}}; }

ValueCondition pattern(std::string name, std::string value) {
  std::string problem;
  Regex regex = Regex::compile(value, &problem);
  REQUIRE(regex);
  return {std::move(name), std::move(value), regex};
}

}  // namespace

TEST_CASE("Gateway API matches: headers, method, query parameters and the port a request came to",
          "[route_table]") {
  RouteTable table;
  table.clusters.resize(6);
  Route by_header = with({.headers = {exact("version", "two")}}, gateway_route(PathType::kPrefix, "/svc", 1));
  Route by_regex_header =
      with({.headers = {pattern("version", "v[0-9]+")}}, gateway_route(PathType::kPrefix, "/svc", 2));
  Route by_method = with({.method = "GET"}, gateway_route(PathType::kPrefix, "/svc", 3));
  Route by_query = with({.query = {exact("debug", "1")}}, gateway_route(PathType::kPrefix, "/svc", 4));
  Route tls_only = gateway_route(PathType::kPrefix, "/secure", 5);
  tls_only.ports = kTlsPort;
  Route plain = gateway_route(PathType::kPrefix, "/svc", 0);
  // Added least specific first: precedence, not order, decides.
  table.exact_hosts["a.example.com"] = host_of({plain, by_query, by_method, by_regex_header, by_header, tls_only});

  auto match = [&](std::map<std::string, std::string> headers, std::string path, std::string method = "POST",
                   bool tls = false) -> int {
    const Route* route = table.match({.authority = "a.example.com", .path = path, .method = method, .tls = tls},
                                     Headers{std::move(headers), {}});
    return route ? static_cast<int>(route->cluster) : -1;
  };
  CHECK(match({{"version", "two"}}, "/svc/M") == 1);
  CHECK(match({{"version", "v7"}}, "/svc/M") == 2);
  CHECK(match({{"version", "v7x"}}, "/svc/M") == 0);  // a regular expression matches the whole value
  CHECK(match({}, "/svc/M", "GET") == 3);              // a method match ranks above header-less rules
  CHECK(match({}, "/svc/M?debug=1") == 4);
  CHECK(match({}, "/svc/M?x=2&debug=1") == 4);
  CHECK(match({}, "/svc/M?debug=2") == 0);
  CHECK(match({}, "/svc/M") == 0);
  CHECK(match({}, "/secure/x") == -1);                 // served on the TLS port only
  CHECK(match({}, "/secure/x", "POST", true) == 5);
}

TEST_CASE("a regular-expression path ranks between Exact and Prefix paths", "[route_table]") {
  RouteTable table;
  table.clusters.resize(3);
  std::string problem;
  Route regex = with({.path_regex = Regex::compile("/[^/]+/Get", &problem)},
                     gateway_route(PathType::kRegex, "/[^/]+/Get", 1));
  table.any_host = host_of({gateway_route(PathType::kPrefix, "/routeguide.RouteGuide", 0), regex,
                            gateway_route(PathType::kExact, "/routeguide.RouteGuide/Get", 2)});
  CHECK(table.match("x", "/routeguide.RouteGuide/Get")->cluster == 2);
  CHECK(table.match("x", "/other.Service/Get")->cluster == 1);
  CHECK(table.match("x", "/routeguide.RouteGuide/List")->cluster == 0);
  CHECK(table.match("x", "/other.Service/GetMore") == nullptr);  // whole-path match only
}

TEST_CASE("a Gateway API wildcard host covers any number of labels, an Ingress one exactly one", "[route_table]") {
  RouteTable table;
  table.clusters.resize(3);
  Route ingress_route{PathType::kPrefix, "/ingress", 0, "default", "ing"};
  table.wildcard_hosts["*.example.com"] = host_of({ingress_route, gateway_route(PathType::kPrefix, "/gw", 1)});
  table.any_host = host_of({Route{PathType::kPrefix, "/ingress", 2, "default", "any"}});
  CHECK(table.match("a.example.com", "/ingress")->cluster == 0);
  CHECK(table.match("a.example.com", "/gw")->cluster == 1);
  CHECK(table.match("a.b.example.com", "/gw")->cluster == 1);
  // Two labels down the Ingress wildcard does not apply: the host-less rules do.
  CHECK(table.match("a.b.example.com", "/ingress")->cluster == 2);
  CHECK(table.match("example.com", "/gw") == nullptr);
}

TEST_CASE("regular expressions that do not compile are refused with the reason", "[route_table]") {
  std::string problem;
  CHECK_FALSE(Regex::compile("(unclosed", &problem));
  CHECK_THAT(problem, Catch::Matchers::Contains("(unclosed"));
  Regex ok = Regex::compile("a+b", &problem);
  REQUIRE(ok);
  CHECK(ok.full_match("aaab"));
  CHECK_FALSE(ok.full_match("aaabc"));
}

TEST_CASE("path changes of redirects and rewrites replace the whole path or the matched prefix", "[route_table]") {
  struct Case {
    PathChange::Type type;
    const char* value;
    const char* prefix;
    const char* path;
    const char* expected;
  };
  const Case cases[] = {
      {PathChange::Type::kFull, "/new", "/old", "/old/x", "/new"},
      {PathChange::Type::kPrefix, "/new", "/old", "/old/x", "/new/x"},
      {PathChange::Type::kPrefix, "/new", "/old", "/old", "/new"},
      {PathChange::Type::kPrefix, "/new/", "/old", "/old/x", "/new/x"},
      {PathChange::Type::kPrefix, "/", "/old", "/old/x", "/x"},
      {PathChange::Type::kPrefix, "/", "/old", "/old", "/"},
      {PathChange::Type::kPrefix, "/new", "/", "/x/y", "/new/x/y"},
      {PathChange::Type::kNone, "", "/old", "/old/x", "/old/x"},
  };
  for (const Case& c : cases) {
    INFO(c.value << " for " << c.prefix << " on " << c.path);
    CHECK(PathChange{c.type, c.value}.apply(c.path, c.prefix) == c.expected);
  }
}
