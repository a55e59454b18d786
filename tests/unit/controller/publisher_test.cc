// The publisher between the store and the data plane, with a sink that
// records what it is handed (as the data plane would take it): when the first
// table goes out, that bursts become one table, that changes which leave
// routing alone publish nothing, and what a user sees in the rejections.

#include "controller/publisher.h"

#include "tests/unit/controller/manifest_fixture.h"
#include "tests/unit/run_until.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

class RecordingSink : public TableSink {
 public:
  void publish(std::shared_ptr<const RouteTable> table, std::function<void()> applied) override {
    tables.push_back(std::move(table));
    waiting.push_back(std::move(applied));
  }
  // Every worker now uses what was published.
  void apply() {
    for (auto& applied : waiting) applied();
    waiting.clear();
  }

  std::vector<std::shared_ptr<const RouteTable>> tables;
  std::vector<std::function<void()>> waiting;
};

std::string greeter(const std::vector<std::string>& endpoints) {
  return service({.name = "greeter", .endpoints = endpoints}) +
         ingress({.name = "greeter", .rules = {rule("greeter.example.com", {path("/", "Prefix")})}});
}

std::vector<std::string> pods(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(endpoint("127.0.0." + std::to_string(10 + i), "greeter-" + std::to_string(i)));
  return out;
}

struct Setup {
  boost::asio::io_context io;
  Store store;
  RecordingSink sink;
  Publisher publisher{io, store, sink, TranslatorOptions{}, std::chrono::milliseconds(5)};
  int translations = 0;

  Setup() {
    publisher.set_on_translated([this](const Translation&) { ++translations; });
    publisher.start();
  }
  // Runs the loop for `time`, whatever happens.
  void settle(std::chrono::milliseconds time = std::chrono::milliseconds(60)) {
    run_until(io, [] { return false; }, time);
  }
};

}  // namespace

TEST_CASE("publisher: nothing goes out before the store has listed every kind, then the first table, ready once "
          "applied",
          "[publisher]") {
  Setup setup;
  setup.settle();
  CHECK(setup.sink.tables.empty());
  CHECK_FALSE(setup.publisher.ready());

  load_yaml(setup.store, greeter(pods(2)));  // every kind listed at once
  REQUIRE(run_until(setup.io, [&] { return !setup.sink.tables.empty(); }, std::chrono::seconds(2)));
  const RouteTable& first = *setup.sink.tables.at(0);
  CHECK(first.version == 1);
  CHECK(first.endpoint_count() == 2);
  CHECK(first.match("greeter.example.com", "/helloworld.Greeter/SayHello") != nullptr);
  CHECK(setup.publisher.current() == setup.sink.tables.at(0));
  CHECK_FALSE(setup.publisher.ready());  // no worker has it yet
  setup.sink.apply();
  CHECK(setup.publisher.ready());
  CHECK(setup.publisher.last_applied_seconds() > 0);
}

TEST_CASE("publisher: a burst of changes inside the debounce becomes one table with the last state", "[publisher]") {
  Setup setup;
  load_yaml(setup.store, greeter(pods(1)));
  REQUIRE(run_until(setup.io, [&] { return setup.sink.tables.size() == 1; }, std::chrono::seconds(2)));
  setup.sink.apply();

  for (int n = 2; n <= 6; ++n) load_yaml(setup.store, greeter(pods(n)));  // five changes, no loop turn between
  REQUIRE(run_until(setup.io, [&] { return setup.sink.tables.size() == 2; }, std::chrono::seconds(2)));
  setup.settle();
  REQUIRE(setup.sink.tables.size() == 2);
  CHECK(setup.sink.tables.back()->version == 2);
  CHECK(setup.sink.tables.back()->endpoint_count() == 6);
}

TEST_CASE("publisher: a change that leaves routing alone is translated but publishes nothing", "[publisher]") {
  Setup setup;
  load_yaml(setup.store, greeter(pods(2)));
  REQUIRE(run_until(setup.io, [&] { return setup.sink.tables.size() == 1; }, std::chrono::seconds(2)));
  int translations = setup.translations;
  // A Secret nothing refers to.
  setup.store.upsert(objects_from_yaml(secret("unused", "Opaque", {{"token", "x"}})).at(0));
  REQUIRE(run_until(setup.io, [&] { return setup.translations > translations; }, std::chrono::seconds(2)));
  setup.settle();
  CHECK(setup.sink.tables.size() == 1);
}

TEST_CASE("publisher: what the translation rejected is reported, and forgotten once fixed", "[publisher]") {
  Setup setup;
  std::string broken = ingress({.name = "lost", .rules = {rule("lost.example.com", {path("/", "Prefix", "nowhere")})}});
  load_yaml(setup.store, greeter(pods(1)) + broken);
  REQUIRE(run_until(setup.io, [&] { return setup.sink.tables.size() == 1; }, std::chrono::seconds(2)));
  auto rejections = setup.publisher.rejections();
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].kind == "Ingress");
  CHECK(rejections[0].name == "lost");
  CHECK(rejections[0].reason.find("nowhere") != std::string::npos);

  load_yaml(setup.store, greeter(pods(1)));
  REQUIRE(run_until(setup.io, [&] { return setup.publisher.rejections().empty(); }, std::chrono::seconds(2)));
}
