#include "common/route_table.h"

#include <catch2/catch.hpp>

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
