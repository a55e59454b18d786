// AccessControl: the checks of an Ingress's access annotations that need no
// other service (source ranges, client certificate, rate and concurrency
// limits), as a gRPC or plain HTTP client sees their answers.

#include "dataplane/access_control.h"

#include "tests/fakes/fake_pods.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

using Clock = AccessControl::Clock;

// Each test its own buckets (the binary's are shared by every worker of a process).
std::shared_ptr<RateLimitBuckets> fresh() { return std::make_shared<RateLimitBuckets>(); }

struct Client {
  std::shared_ptr<FakeClient> side = std::make_shared<FakeClient>();
  std::shared_ptr<DownstreamPeer> peer = std::make_shared<DownstreamPeer>();

  explicit Client(std::string_view address) {
    peer->address = peer->socket_address = IpAddress::from(address);
    peer->address_text = peer->address.to_string();
    peer->known = true;
  }

  std::shared_ptr<ProxyStream> request(bool grpc = true) {
    auto stream = ProxyStream::make(1, next_id += 2, std::weak_ptr<DownstreamSide>(side));
    stream->method = "POST";
    stream->path = "/helloworld.Greeter/SayHello";
    stream->authority = "a.example";
    stream->downstream_tls = true;
    stream->grpc = grpc;
    stream->set_peer(peer);
    return stream;
  }
  int32_t next_id = 1;
};

AccessPolicy ranges(std::string_view allow, std::string_view deny = "") {
  AccessPolicy policy;
  policy.allow = *parse_ip_ranges(allow);
  policy.deny = *parse_ip_ranges(deny);
  return policy;
}

}  // namespace

TEST_CASE("access: source ranges admit listed clients and refuse others with PERMISSION_DENIED or 403") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  AccessPolicy policy = ranges("127.0.0.2/32, 10.0.0.0/8, fd00::/8");

  Client listed("127.0.0.2"), other("127.0.0.3"), v6("fd00::5"), v6_other("fe80::1");
  CHECK(access.admit(*listed.request(), policy));
  CHECK(access.admit(*v6.request(), policy));
  CHECK_FALSE(listed.side->answered);

  auto refused = other.request();
  CHECK_FALSE(access.admit(*refused, policy));
  CHECK(other.side->grpc_status == 7);
  auto http = v6_other.request(false);
  CHECK_FALSE(access.admit(*http, policy));
  CHECK(v6_other.side->http_status == 403);
  CHECK(stats.access_refused[kRefusedSourceRange] == 2);
}

TEST_CASE("access: a denied range wins over an allowed one, and deny alone admits everyone else") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  Client inside("10.1.2.3"), denied("10.9.0.1"), outside("192.0.2.1");
  AccessPolicy both = ranges("10.0.0.0/8", "10.9.0.0/16");
  CHECK(access.admit(*inside.request(), both));
  CHECK_FALSE(access.admit(*denied.request(), both));
  AccessPolicy deny_only = ranges("", "10.9.0.0/16");
  CHECK(access.admit(*outside.request(), deny_only));
  CHECK_FALSE(access.admit(*denied.request(), deny_only));
}

TEST_CASE("access: the address judged is the stream's client address, not the socket's") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  Client proxy("127.0.0.9");  // a trusted proxy that named the client
  auto stream = proxy.request();
  stream->client_address = IpAddress::from("203.0.113.7");
  stream->client_address_text = "203.0.113.7";
  CHECK(access.admit(*stream, ranges("203.0.113.0/24")));
  CHECK_FALSE(access.admit(*proxy.request(), ranges("203.0.113.0/24")));
}

TEST_CASE("access: client certificate modes refuse with UNAUTHENTICATED or 400 as ingress-nginx") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  AccessPolicy on;
  on.client_cert = ClientCertMode::kOn;
  AccessPolicy optional = on;
  optional.client_cert = ClientCertMode::kOptional;
  AccessPolicy no_ca = on;
  no_ca.client_cert = ClientCertMode::kOptionalNoCa;

  Client without("127.0.0.2");
  without.peer->certificate = ClientCertificate{};  // asked, none sent
  CHECK_FALSE(access.admit(*without.request(), on));
  CHECK(without.side->grpc_status == 16);
  CHECK(access.admit(*without.request(), optional));
  CHECK(access.admit(*without.request(), no_ca));

  Client good("127.0.0.3");
  good.peer->certificate = ClientCertificate{.presented = true, .verified = true, .subject = "CN=good", .server_name = "a.example"};
  CHECK(access.admit(*good.request(), on));
  CHECK(access.admit(*good.request(), optional));

  Client wrong_ca("127.0.0.4");
  wrong_ca.peer->certificate =
      ClientCertificate{.presented = true, .verified = false, .verify_error = "unable to get local issuer certificate",
                        .server_name = "a.example"};
  auto refused = wrong_ca.request(false);
  CHECK_FALSE(access.admit(*refused, optional));
  CHECK(wrong_ca.side->http_status == 400);
  CHECK_FALSE(access.admit(*wrong_ca.request(), on));
  CHECK(access.admit(*wrong_ca.request(), no_ca));

  Client cleartext("127.0.0.5");  // no TLS: never asked
  CHECK_FALSE(access.admit(*cleartext.request(), on));

  // Verified for another server name (HTTP/2 connection reuse, a forged
  // :authority): not judged for this host, 421 as nginx.
  Client other_host("127.0.0.6");
  other_host.peer->certificate =
      ClientCertificate{.presented = true, .verified = true, .subject = "CN=b", .server_name = "b.example"};
  CHECK_FALSE(access.admit(*other_host.request(false), on));
  CHECK(other_host.side->http_status == 421);
  CHECK(stats.access_refused[kRefusedClientCertificate] == 5);
}

TEST_CASE("access: limit-rps allows the burst, then the rate, per client address, answering the excess") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  AccessPolicy policy;
  policy.rate_limit = RateLimit{.per_second = 10, .burst_multiplier = 2};
  Client a("127.0.0.2"), b("127.0.0.3");
  auto t0 = Clock::now();

  int admitted = 0;
  for (int i = 0; i < 30; ++i) admitted += access.admit(*a.request(), policy, t0);
  CHECK(admitted == 20);  // the burst: rate x multiplier
  CHECK(a.side->grpc_status == 8);
  CHECK(access.admit(*b.request(), policy, t0));  // another client has its own bucket

  // A second later, ten more tokens; not eleven.
  admitted = 0;
  for (int i = 0; i < 15; ++i) admitted += access.admit(*a.request(), policy, t0 + std::chrono::seconds(1));
  CHECK(admitted == 10);

  // Sustained: 10 per second over 5 seconds, asked 20 times a second.
  admitted = 0;
  for (int tick = 1; tick <= 100; ++tick) {
    admitted += access.admit(*a.request(), policy, t0 + std::chrono::seconds(1) + std::chrono::milliseconds(50 * tick));
  }
  CHECK(admitted >= 49);
  CHECK(admitted <= 51);

  auto http = a.request(false);
  CHECK_FALSE(access.admit(*http, policy, t0 + std::chrono::seconds(6)));
  CHECK(a.side->http_status == 429);
  CHECK(stats.access_refused[kRefusedRateLimit] > 0);
}

TEST_CASE("access: limit-rpm and limit-rps both hold, the exempt list is never limited, the status is configurable") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  AccessPolicy policy;
  policy.rate_limit = RateLimit{.per_second = 100, .per_minute = 6, .burst_multiplier = 1,
                                .exempt = *parse_ip_ranges("127.0.0.9"), .http_status = 503};
  Client limited("127.0.0.2"), exempt("127.0.0.9");
  auto t0 = Clock::now();
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += access.admit(*limited.request(false), policy, t0);
  CHECK(admitted == 6);
  CHECK(limited.side->http_status == 503);
  CHECK(access.admit(*limited.request(), policy, t0 + std::chrono::seconds(10)));  // one token per 10 s
  CHECK_FALSE(access.admit(*limited.request(), policy, t0 + std::chrono::seconds(11)));
  for (int i = 0; i < 50; ++i) REQUIRE(access.admit(*exempt.request(), policy, t0));
}

TEST_CASE("access: limit-connections counts requests in flight per client and frees them as streams end") {
  WorkerStats stats;
  AccessControl access(stats, fresh());
  AccessPolicy policy;
  policy.rate_limit = RateLimit{.concurrent = 2};
  Client a("127.0.0.2"), b("127.0.0.3");
  auto first = a.request();
  auto second = a.request();
  CHECK(access.admit(*first, policy));
  CHECK(access.admit(*second, policy));
  CHECK_FALSE(access.admit(*a.request(), policy));
  CHECK(stats.access_refused[kRefusedConcurrencyLimit] == 1);
  CHECK(access.admit(*b.request(), policy));
  first.reset();  // the call ended
  CHECK(access.admit(*a.request(), policy));
}

TEST_CASE("access: the limits forget idle clients past their bound instead of growing") {
  RateLimitBuckets buckets;
  RateLimit limit{.per_second = 1};
  auto t0 = Clock::now();
  std::shared_ptr<std::atomic<uint32_t>> in_flight;
  auto address = [](uint32_t n) {
    return IpAddress::from("10." + std::to_string((n >> 16) & 0xff) + "." + std::to_string((n >> 8) & 0xff) + "." +
                           std::to_string(n & 0xff));
  };
  size_t admitted = 0, full = 0;
  for (uint32_t n = 0; n < RateLimitBuckets::kMaxClients + 4096; ++n) {
    auto verdict = buckets.take(limit, address(n), t0, in_flight);
    admitted += verdict == RateLimitBuckets::Verdict::kAdmitted;
    full += verdict == RateLimitBuckets::Verdict::kFull;
  }
  // Bounded by shard: never more than the bound, and refused (not tracked) past it.
  CHECK(buckets.tracked_clients() <= RateLimitBuckets::kMaxClients);
  CHECK(buckets.tracked_clients() > RateLimitBuckets::kMaxClients * 9 / 10);
  CHECK(full > 0);
  CHECK(admitted + full == RateLimitBuckets::kMaxClients + 4096);
  // Two minutes on, the idle ones are forgotten when a new client needs room.
  for (uint32_t n = RateLimitBuckets::kMaxClients + 4096; n < RateLimitBuckets::kMaxClients + 4200; ++n) {
    REQUIRE(buckets.take(limit, address(n), t0 + std::chrono::minutes(2), in_flight) ==
            RateLimitBuckets::Verdict::kAdmitted);
  }
  CHECK(buckets.tracked_clients() < RateLimitBuckets::kMaxClients / 2);
}

TEST_CASE("access: workers share one client's buckets, so reconnecting to another worker buys no tokens") {
  auto buckets = fresh();
  WorkerStats stats_a, stats_b;
  AccessControl worker_a(stats_a, buckets), worker_b(stats_b, buckets);
  AccessPolicy policy;
  policy.rate_limit = RateLimit{.per_second = 2, .burst_multiplier = 1};
  Client client("127.0.0.2");
  auto t0 = Clock::now();
  CHECK(worker_a.admit(*client.request(), policy, t0));
  CHECK(worker_b.admit(*client.request(), policy, t0));
  CHECK_FALSE(worker_a.admit(*client.request(), policy, t0));
  CHECK_FALSE(worker_b.admit(*client.request(), policy, t0));
}
