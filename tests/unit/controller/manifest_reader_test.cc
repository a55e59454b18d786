#include "controller/manifest_reader.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace grpc_ingress;
using nlohmann::json;

namespace {

json only_document(const std::string& yaml) {
  auto documents = parse_manifest(yaml, ManifestFormat::kYaml);
  REQUIRE(documents.has_value());
  REQUIRE(documents->size() == 1);
  return documents->front();
}

std::string error_of(const std::string& text, ManifestFormat format) {
  auto documents = parse_manifest(text, format);
  REQUIRE_FALSE(documents.has_value());
  return documents.error().message;
}

}  // namespace

TEST_CASE("YAML scalars keep their type as kubectl would read them", "[manifest_reader]") {
  struct Case {
    std::string rule;
    std::string yaml_value;
    json expected;
  };
  const Case cases[] = {
      {"a plain number is a number", "80", 80},
      {"a quoted number stays a string", "\"80\"", "80"},
      {"a single-quoted number stays a string", "'80'", "80"},
      {"plain true is a boolean", "true", true},
      {"quoted true stays a string", "\"true\"", "true"},
      {"tilde is null", "~", nullptr},
      {"an empty value is null", "", nullptr},
      {"a negative number is a number", "-3", -3},
      {"a hex number is a number", "0x1F", 31},
      {"a float is a float", "1.5", 1.5},
      {"yes is a string in YAML 1.2", "yes", "yes"},
      {"a version-like text is a string", "1.2.3", "1.2.3"},
      {"an IP address is a string", "127.0.0.5", "127.0.0.5"},
      {"a timestamp is a string", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"},
      {"a block scalar is a string", "|\n  80\n", "80\n"},
      {"an explicit str tag is a string", "!!str 80", "80"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      json document = only_document("value: " + c.yaml_value + "\n");
      CHECK(document["value"] == c.expected);
      CHECK(document["value"].type() == c.expected.type());
    }
  }
}

TEST_CASE("a number too big for 64 bits stays a number", "[manifest_reader]") {
  json document = only_document("port: 99999999999999999999999\n");
  CHECK(document["port"].is_number_float());
}

TEST_CASE("YAML anchors and aliases are expanded", "[manifest_reader]") {
  json document = only_document("a: &labels {app: greeter}\nb: *labels\n");
  CHECK(document["b"] == json{{"app", "greeter"}});
}

TEST_CASE("manifest documents are split and lists flattened", "[manifest_reader]") {
  SECTION("multi-document YAML, empty documents skipped") {
    auto documents = parse_manifest("---\nkind: A\n---\n---\nkind: B\n...\n", ManifestFormat::kYaml);
    REQUIRE(documents);
    REQUIRE(documents->size() == 2);
    CHECK((*documents)[1]["kind"] == "B");
  }
  SECTION("kind: List yields its items") {
    auto documents = parse_manifest(
        "apiVersion: v1\nkind: List\nitems:\n- {kind: Service}\n- {kind: Secret}\n---\nkind: C\n",
        ManifestFormat::kYaml);
    REQUIRE(documents);
    REQUIRE(documents->size() == 3);
    CHECK((*documents)[0]["kind"] == "Service");
    CHECK((*documents)[2]["kind"] == "C");
  }
  SECTION("a typed list gives its items the kind and apiVersion they omit") {
    auto documents = parse_manifest(
        R"({"apiVersion": "v1", "kind": "ServiceList", "items": [{"metadata": {"name": "a"}}]})",
        ManifestFormat::kJson);
    REQUIRE(documents);
    REQUIRE(documents->size() == 1);
    CHECK((*documents)[0]["kind"] == "Service");
    CHECK((*documents)[0]["apiVersion"] == "v1");
  }
}

TEST_CASE("manifest parse errors name the line", "[manifest_reader]") {
  struct Case {
    std::string rule;
    std::string text;
    ManifestFormat format;
    std::string error;
  };
  std::string alias_bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    std::string alias = "*" + prev;
    alias_bomb += std::string(1, c) + ": &" + std::string(1, c) + " [" + alias;
    for (int i = 0; i < 9; ++i) alias_bomb += ", " + alias;
    alias_bomb += "]\n";
  }
  const Case cases[] = {
      {"a YAML syntax error", "kind: Service\nmetadata:\n  name: a\n   bad: [\n", ManifestFormat::kYaml,
       "line 4"},
      {"a JSON syntax error", "{\n  \"kind\": \"Service\",\n  \"x\": }\n", ManifestFormat::kJson,
       "line 3"},
      {"a duplicate YAML key", "kind: A\nkind: B\n", ManifestFormat::kYaml,
       "line 2, column 1: duplicate key 'kind'"},
      {"YAML aliases that expand without bound", alias_bomb, ManifestFormat::kYaml,
       "aliases expand to more nodes than the text has bytes"},
      {"YAML nested deeper than we convert", std::string(200, '[') + std::string(200, ']'),
       ManifestFormat::kYaml, "line 1, column 130: nested too deep (more than 128 levels)"},
      {"YAML nested deeper than yaml-cpp parses", std::string(5000, '[') + std::string(5000, ']'),
       ManifestFormat::kYaml, "line 1: nested too deep"},
      // yaml-cpp's LoadAll alone would add empty documents before them until memory ran out.
      {"a stray ',' where a document starts", ",", ManifestFormat::kYaml, "line 1, column 1: unexpected ','"},
      {"a stray ',' after a tag", "kind: Service\n---\n!!str ,\n", ManifestFormat::kYaml,
       "line 3, column 7: unexpected ','"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      CHECK_THAT(error_of(c.text, c.format), Catch::Matchers::Contains(c.error));
    }
  }
}

TEST_CASE("manifest format follows the file extension", "[manifest_reader]") {
  CHECK(manifest_format("a.yaml") == ManifestFormat::kYaml);
  CHECK(manifest_format("a.yml") == ManifestFormat::kYaml);
  CHECK(manifest_format("a.json") == ManifestFormat::kJson);
  CHECK_FALSE(manifest_format("README.md"));
  CHECK_FALSE(manifest_format("a.yaml.bak"));
}

TEST_CASE("a manifest file with a Gateway and a GRPCRoute yields both objects", "[manifest_reader]") {
  // As a user writes it: the Gateway API docs' example, a document per object.
  const std::string yaml = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: example-gateway
  namespace: infra
spec:
  gatewayClassName: grpc
  listeners:
  - name: grpc
    protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    tls:
      certificateRefs:
      - kind: Secret
        group: ""
        name: example-com-cert
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: foo-route
  namespace: apps
spec:
  parentRefs:
  - name: example-gateway
    namespace: infra
  hostnames:
  - "foo.example.com"
  rules:
  - matches:
    - method:
        service: com.example.User
        method: Login
    backendRefs:
    - name: foo-svc
      port: 50051
      weight: 90
    - name: foo-canary
      port: 50051
      weight: 10
)";
  std::string pattern = (std::filesystem::temp_directory_path() / "manifest_reader_test.XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  std::filesystem::path dir = pattern;
  std::ofstream(dir / "gateway.yaml") << yaml;
  auto objects = read_manifest_file(dir / "gateway.yaml");
  std::filesystem::remove_all(dir);

  REQUIRE(objects.has_value());
  REQUIRE(objects->size() == 2);
  REQUIRE(std::holds_alternative<Gateway>((*objects)[0]));
  const auto& gateway = std::get<Gateway>((*objects)[0]);
  CHECK(gateway.metadata.key() == ObjectKey{"infra", "example-gateway"});
  REQUIRE(gateway.listeners.size() == 1);
  CHECK(gateway.listeners[0].port == 443);
  CHECK(gateway.listeners[0].hostname == "*.example.com");
  CHECK(gateway.listeners[0].routes_from == RoutesFrom::kAll);
  CHECK(gateway.listeners[0].certificate_refs.at(0).name == "example-com-cert");

  REQUIRE(std::holds_alternative<GRPCRoute>((*objects)[1]));
  const auto& route = std::get<GRPCRoute>((*objects)[1]);
  CHECK(route.metadata.key() == ObjectKey{"apps", "foo-route"});
  CHECK(route.parent_refs.at(0).namespace_name == "infra");
  REQUIRE(route.rules.size() == 1);
  CHECK(route.rules[0].matches.at(0).service == "com.example.User");
  CHECK(route.rules[0].matches.at(0).method == "Login");
  REQUIRE(route.rules[0].backends.size() == 2);
  CHECK(route.rules[0].backends[1].weight == 10);
}
