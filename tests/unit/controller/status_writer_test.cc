#include "controller/status_writer.h"

#include "controller/object_decoder.h"
#include "tests/fakes/fake_kube_api.h"
#include "tests/unit/run_until.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>

using namespace grpc_ingress;
using grpc_ingress::testing::FakeKubeApi;
using grpc_ingress::testing::run_until;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

json ingress_json(const std::string& name, const std::string& rv, const json& load_balancer = json::array()) {
  json out = {{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "Ingress"},
              {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
              {"spec", {{"ingressClassName", "grpc"}}}};
  if (!load_balancer.empty()) out["status"] = {{"loadBalancer", {{"ingress", load_balancer}}}};
  return out;
}

Translation serving(std::vector<ObjectKey> keys) {
  Translation translation;
  translation.served_ingresses = std::make_shared<std::vector<ObjectKey>>(std::move(keys));
  return translation;
}

struct Fixture {
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  std::shared_ptr<StatusWriter> writer;

  explicit Fixture(StatusWriterOptions options) {
    options.retry_initial = 20ms;
    writer = std::make_shared<StatusWriter>(io, api, store, std::move(options));
    writer->start();
  }
  ~Fixture() { writer->stop(); }

  void put_ingress(const json& object) { store.upsert(decode_object_as(ObjectKind::kIngress, object)); }

  KubeRequest next() {
    REQUIRE(run_until(io, [&] { return !api.pending.empty(); }));
    return api.pending.front().request;
  }
};

}  // namespace

TEST_CASE("status addresses: IPs and host names from the flag, a Service's load balancer, external IPs or cluster IP") {
  auto flag = parse_status_addresses({"lb.example.com", "203.0.113.9", "", "2001:db8::1"});
  REQUIRE(flag.size() == 3);
  CHECK(flag[0] == LoadBalancerIngress{"", "lb.example.com"});
  CHECK(flag[1] == LoadBalancerIngress{"2001:db8::1", ""});
  CHECK(flag[2] == LoadBalancerIngress{"203.0.113.9", ""});

  Service service;
  service.type = "LoadBalancer";
  service.cluster_ip = "10.96.0.10";
  service.load_balancer = {{"198.51.100.2", ""}, {"", "elb.example.com"}};
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"", "elb.example.com"}, {"198.51.100.2", ""}});
  service.load_balancer.clear();
  CHECK(service_addresses(service).empty());  // a load balancer still being provisioned
  service.type = "ClusterIP";
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"10.96.0.10", ""}});
  service.external_ips = {"192.0.2.1"};
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"192.0.2.1", ""}});

  CHECK(parse_namespaced_name("ingress/grpc-ingress", "--publish-service"));
  CHECK_FALSE(parse_namespaced_name("grpc-ingress", "--publish-service"));
  CHECK_FALSE(parse_namespaced_name("a/b/c", "--publish-service"));
}

TEST_CASE("the leader writes the addresses to the status of each Ingress it serves, retrying a 409 with a fresh read") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("web", "10"));
  f.put_ingress(ingress_json("theirs", "11"));
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.empty());  // not the leader yet

  f.writer->set_leading(true);
  KubeRequest get = f.next();
  CHECK(get.method == "GET");
  CHECK(get.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web");
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(put.method == "PUT");
  CHECK(put.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status");
  json body = json::parse(put.body);
  CHECK(body["metadata"]["resourceVersion"] == "10");
  CHECK(body["status"]["loadBalancer"]["ingress"] == json::parse(R"([{"ip":"203.0.113.9"}])"));
  f.api.respond(409, {{"kind", "Status"}, {"code", 409}, {"reason", "Conflict"}});

  get = f.next();
  CHECK(get.method == "GET");
  f.api.respond(200, ingress_json("web", "12"));
  put = f.next();
  CHECK(json::parse(put.body)["metadata"]["resourceVersion"] == "12");
  f.api.respond(200, ingress_json("web", "13", json::parse(R"([{"ip":"203.0.113.9"}])")));
  CHECK(f.writer->updates_written() == 1);
  CHECK(f.api.pending.empty());  // "theirs" is not ours: never touched

  // The write comes back through the watch: nothing more to do.
  f.put_ingress(ingress_json("web", "13", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.empty());
}

TEST_CASE("an Ingress that stops being ours loses the addresses we wrote, and only those") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("was-ours", "10", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.put_ingress(ingress_json("nginx", "11", json::parse(R"([{"ip":"198.51.100.1"}])")));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({}));
  KubeRequest get = f.next();
  CHECK(get.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/was-ours");
  f.api.respond(200, ingress_json("was-ours", "10", json::parse(R"([{"ip":"203.0.113.9"}])")));
  KubeRequest put = f.next();
  CHECK(json::parse(put.body)["status"]["loadBalancer"] == json::object());
  f.api.respond(200, ingress_json("was-ours", "14"));
  CHECK(f.api.pending.empty());
}

TEST_CASE("an Ingress that leaves our class while its status is being written gets it taken back once the write ends") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  KubeRequest get = f.next();
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(put.method == "PUT");
  // While the write is in flight: the watch shows what it wrote, and the Ingress leaves our class.
  f.put_ingress(ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.writer->on_translated(serving({}));
  CHECK(f.api.pending.size() == 1);  // nothing new while it is in flight
  f.api.respond(200, ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  // Done: the Ingress is looked at again, and what we wrote is taken back.
  KubeRequest again = f.next();
  CHECK(again.method == "GET");
  f.api.respond(200, ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  KubeRequest clear = f.next();
  CHECK(clear.method == "PUT");
  CHECK(json::parse(clear.body)["status"]["loadBalancer"] == json::object());
}

TEST_CASE("a failed status write is retried after a backoff, losing the lead stops the writes") {
  Fixture f({.publish_addresses = {"lb.example.com"}});
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  f.next();
  auto failed = Clock::now();
  f.api.respond(500, {{"kind", "Status"}, {"code", 500}});
  KubeRequest again = f.next();
  CHECK(again.method == "GET");
  CHECK(Clock::now() - failed >= 20ms);

  f.writer->set_leading(false);
  f.api.respond(200, ingress_json("web", "10"));  // the read that was under way
  run_until(f.io, [] { return false; }, 100ms);
  CHECK(f.api.pending.empty());
}

TEST_CASE("with --publish-service the Service is watched, and a new load-balancer address reaches every Ingress") {
  Fixture f({.publish_service = "ingress/grpc-ingress"});
  KubeRequest list = f.next();
  CHECK(list.target == "/api/v1/namespaces/ingress/services?limit=500&fieldSelector=metadata.name%3Dgrpc-ingress");
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.size() == 1);  // nothing is written before the Service has been read

  json service = {{"metadata", {{"name", "grpc-ingress"}, {"namespace", "ingress"}}},
                  {"spec", {{"type", "LoadBalancer"}, {"clusterIP", "10.96.0.10"}}},
                  {"status", {{"loadBalancer", {{"ingress", {{{"ip", "198.51.100.7"}}}}}}}}};
  f.api.respond(200, {{"metadata", {{"resourceVersion", "50"}}}, {"items", {service}}});
  CHECK(f.writer->addresses() == std::vector<LoadBalancerIngress>{{"198.51.100.7", ""}});
  KubeRequest get = f.next();
  CHECK(get.method == "GET");
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(json::parse(put.body)["status"]["loadBalancer"]["ingress"][0]["ip"] == "198.51.100.7");
}
