// HTTP/2 attacks on the client port. Each test runs one grpc-ingress worker
// thread and one pod, an attacker on its own raw connection(s), and meanwhile
// a well-behaved gRPC client calling the same pod on its own connection. It
// checks that the proxy lives, that the other client is served (>= 99% of its
// calls succeed, p99 < 1 s), that the proxy's memory stays bounded, and, where
// the attack calls for it, that the attacker is cut off and counted.

#include "tests/integration/api_objects.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/h2_raw_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace grpc_ingress::testing {
namespace {

using namespace h2;

constexpr long kMaxRssGrowthKib = 64 * 1024;
// Under AddressSanitizer (`make asan`) the proxy's RSS is mostly ASan's: freed
// memory waits in its quarantine (256 MiB) and every allocation has shadow
// bytes and redzones. The memory bound is asserted by the normal build
// (`make test`); the sanitizer lane checks everything else.
// ASan also makes the proxy several times slower: a flood that fills the socket
// buffers before the proxy's limits trip takes it longer to get through.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnsanitized = false;
constexpr auto kCutOffWithin = 15s;
#else
constexpr bool kUnsanitized = true;
constexpr auto kCutOffWithin = 5s;
#endif
// A client that never reads is dropped once nghttp2 holds the acks the kernel
// will not take: only after the proxy's send buffer (autotuned to megabytes
// on loopback) is full. How long the attacker takes to fill it depends on how
// busy the machine is, so the bound is wider than kCutOffWithin; a proxy that
// never drops the connection still fails.
constexpr auto kUnreadCutOffWithin = 15s;
constexpr auto kMaxP99 = 1s;
constexpr auto kCallDeadline = 2s;
// The well-behaved client's calls are counted from the attack's start to its
// end, and over at least this long, so that a short attack still judges enough calls.
constexpr auto kMinJudged = 2s;
constexpr size_t kMinJudgedCalls = 20;
constexpr const char* kProtocolErrors = "grpc_ingress_protocol_errors_total{side=\"downstream\"}";
constexpr const char* kUnary = "/grpc_ingress.test.Echo/Unary";
constexpr const char* kServerStream = "/grpc_ingress.test.Echo/ServerStream";
constexpr const char* kClientStream = "/grpc_ingress.test.Echo/ClientStream";
constexpr const char* kBidi = "/grpc_ingress.test.Echo/Bidi";

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string echo_message(const test::EchoRequest& request) { return grpc_frame(request.SerializeAsString()); }

// Unary Echo calls back to back on their own connection, each with a 2 s
// deadline; also samples the proxy's RSS between calls.
class WellBehavedCaller {
 public:
  struct Call {
    Clock::time_point start;
    std::chrono::milliseconds elapsed;
    grpc::StatusCode code;
    std::string message;
  };

  explicit WellBehavedCaller(const Ingress& ingress) : ingress_(ingress) {
    thread_ = std::thread([this] {
      auto stub = test::Echo::NewStub(make_channel(ingress_.target()));
      test::EchoRequest request;
      request.set_message("well-behaved");
      const auto give_up = Clock::now() + 90s;
      while (!stop_ && Clock::now() < give_up) {
        const auto start = Clock::now();
        CallResult result = echo_unary(*stub, request, kCallDeadline);
        const long rss = ingress_.rss_kib();
        std::lock_guard lock(mutex_);
        calls_.push_back({start, result.elapsed, result.code, result.message});
        peak_rss_kib_ = std::max(peak_rss_kib_, rss);
      }
    });
  }
  ~WellBehavedCaller() { stop(); }
  WellBehavedCaller(const WellBehavedCaller&) = delete;
  WellBehavedCaller& operator=(const WellBehavedCaller&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool wait_for_success(std::chrono::milliseconds timeout) const {
    return wait_until(
        [&] {
          std::lock_guard lock(mutex_);
          return std::any_of(calls_.begin(), calls_.end(), [](const Call& c) { return c.code == grpc::StatusCode::OK; });
        },
        timeout);
  }
  std::vector<Call> calls_started_between(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const Call& c : calls_) {
      if (c.start >= from && c.start <= to) out.push_back(c);
    }
    return out;
  }
  long peak_rss_kib() const {
    std::lock_guard lock(mutex_);
    return peak_rss_kib_;
  }

 private:
  const Ingress& ingress_;
  mutable std::mutex mutex_;
  std::vector<Call> calls_;
  long peak_rss_kib_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Expect {
  double min_success = 0.99;    // of the well-behaved calls started during the attack
  bool protocol_error = false;  // grpc_ingress_protocol_errors_total{side="downstream"} goes up
};

// One worker thread, one pod behind one Ingress, and the checks every attack test makes.
class AttackScene {
 public:
  AttackScene() : setup_("echo", kEchoPath, 1, IngressOptions{.threads = 1}) {}

  uint16_t port() const { return setup_.ingress->http_port(); }
  Pod& pod() { return setup_.pod(); }

  // Runs `attack` on this thread while a well-behaved client calls the same
  // pod on its own connection, then checks what every attack must leave intact.
  void run(const std::function<void()>& attack, const Expect& expect = {}) {
    Ingress& ingress = *setup_.ingress;
    WellBehavedCaller caller(ingress);
    REQUIRE(caller.wait_for_success(5s));  // its connection and the pod's are up
    const long rss_before = ingress.rss_kib();
    const double errors_before = metric_value(ingress, kProtocolErrors);
    REQUIRE(rss_before > 0);

    const auto start = Clock::now();
    attack();
    const auto attack_end = Clock::now();
    const auto judged_until = std::max(attack_end, start + kMinJudged);
    std::this_thread::sleep_until(judged_until);
    caller.stop();
    const long rss_after = std::max(caller.peak_rss_kib(), ingress.rss_kib());

    auto calls = caller.calls_started_between(start, judged_until);
    std::vector<std::chrono::milliseconds> latencies;
    std::map<std::string, int> failures;
    size_t ok = 0;
    for (const auto& call : calls) {
      latencies.push_back(call.elapsed);
      if (call.code == grpc::StatusCode::OK) {
        ++ok;
      } else {
        ++failures[code_name(call.code) + " '" + call.message + "'"];
      }
    }
    std::sort(latencies.begin(), latencies.end());
    const auto p99 = latencies.empty() ? 0ms : latencies[(latencies.size() * 99 + 99) / 100 - 1];
    std::string failure_text;
    for (const auto& [what, n] : failures) failure_text += "\n  " + std::to_string(n) + " x " + what;
    INFO("attack took " << std::chrono::duration_cast<std::chrono::milliseconds>(attack_end - start).count()
                        << " ms; well-behaved client: " << ok << " of " << calls.size() << " calls OK, p99 "
                        << p99.count() << " ms" << failure_text << "\nproxy RSS " << rss_before << " KiB before, peak "
                        << rss_after << " KiB");

    CHECK(ingress.process().running());
    CHECK(ingress.admin_get("/healthz").status == 200);
    CHECK(calls.size() >= kMinJudgedCalls);
    CHECK(static_cast<double>(ok) >= expect.min_success * static_cast<double>(calls.size()));
    CHECK(p99 < kMaxP99);
    if (kUnsanitized) CHECK(rss_after - rss_before < kMaxRssGrowthKib);
    if (expect.protocol_error) {
      INFO(kProtocolErrors << " was " << errors_before << " before the attack");
      CHECK(wait_until([&] { return metric_value(ingress, kProtocolErrors) > errors_before; }, 2s));
    }
  }

 private:
  OneService setup_;
};

// The attack connection was cut off within `within` of the attack's start:
// GOAWAY with ENHANCE_YOUR_CALM or PROTOCOL_ERROR, or the connection closed.
void check_cut_off(const CutOff& cut, std::chrono::milliseconds within = kCutOffWithin) {
  INFO("attacker saw: " << cut.describe());
  CHECK(cut.by({kEnhanceYourCalm, kProtocolError}));
  CHECK((cut.after && *cut.after <= within));
}

struct Flood {
  std::chrono::milliseconds limit = kCutOffWithin;  // from `start`, waiting for the cut-off included
  int max_batches = 10'000;
  bool read = true;  // read what the proxy sends between batches
};

// Sends `batch(i)` again and again until the proxy cuts the connection off,
// `max_batches` went out or the limit passes. A flood that does not read stops
// once the proxy has stopped reading too (nothing taken for a second) and
// returns at once; one that reads goes on reading until the cut-off or the
// limit. Returns what the attacker saw.
CutOff flood(H2RawClient& attacker, Clock::time_point start, const std::function<std::string(int)>& batch,
             const Flood& how = {}) {
  constexpr size_t kMaxQueued = 1 << 20;
  const auto end = start + how.limit;
  auto last_progress = Clock::now();
  for (int i = 0; i < how.max_batches && Clock::now() < end && !attacker.closed(); ++i) {
    const bool queued = attacker.unsent() < kMaxQueued;
    attacker.send(queued ? batch(i) : "", 50ms);
    if (how.read) attacker.poll();
    if (attacker.goaway_error().value_or(kNoError) != kNoError) break;
    if (attacker.unsent() == 0) last_progress = Clock::now();
    if (!how.read && Clock::now() - last_progress > 1s) break;
    if (!queued) --i;  // that round sent nothing new
  }
  if (!how.read) return attacker.cut_off(start);
  return attacker.wait_cut_off(std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now())),
                               start);
}

// A connection past the preface and both SETTINGS, ready for an attack.
std::unique_ptr<H2RawClient> connect(uint16_t port, const std::vector<std::pair<uint16_t, uint32_t>>& settings = {},
                                     std::optional<int> receive_buffer = std::nullopt) {
  auto client = std::make_unique<H2RawClient>(port, receive_buffer);
  REQUIRE(client->start(settings));
  REQUIRE(client->read_until([](const Frame& f) { return f.type == kSettings && !(f.flags & kFlagAck); }, 5s));
  return client;
}

// A flood of control frames from a client that never reads: the replies the
// proxy owes (PING and SETTINGS acknowledgements) must not queue without
// bound, and as the client never reads a GOAWAY, the proxy must drop the
// connection itself.
void unread_control_flood(uint16_t port, const std::string& frame_bytes) {
  auto attacker = connect(port, {}, /*receive_buffer=*/4096);
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += frame_bytes;
  const auto start = Clock::now();
  flood(*attacker, start, [&](int) { return batch; }, {.max_batches = 2'000, .read = false});
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + kUnreadCutOffWithin - Clock::now());
  const bool dropped = attacker->wait_dropped_unread(std::max(left, 0ms));
  const auto dropped_after = since(start);
  // What a client that reads now would see, for the message.
  CutOff late = attacker->wait_cut_off(dropped ? 0ms : 2s, start);
  INFO("flooded for " << dropped_after.count() << " ms without reading; "
                      << (dropped ? "the proxy dropped the connection" : "the proxy kept the connection")
                      << "; reading then: " << late.describe());
  // Under ASan the proxy may not get through the socket buffers' worth of
  // acks before the flood ends; the normal build asserts the cut-off.
  if (kUnsanitized) {
    CHECK(dropped);
    CHECK(dropped_after <= kUnreadCutOffWithin);
  }
}

// Opens `streams` ServerStream calls asking for `count` replies of 16 KiB
// each, then reads what the proxy sends for `hold` and never opens a window
// (no WINDOW_UPDATE). Returns the streams that got response HEADERS.
std::set<uint32_t> hold_server_streams(H2RawClient& attacker, uint16_t port, int streams, int count,
                                       std::chrono::milliseconds hold) {
  test::EchoRequest request;
  request.set_count(count);
  request.set_payload_bytes(16384);
  const std::string message = echo_message(request);
  for (int i = 0; i < streams; ++i) {
    uint32_t id = attacker.open_stream(grpc_request(kServerStream, port), false);
    attacker.send(data(id, message, true));
  }
  const auto start = Clock::now();
  while (since(start) < hold && !attacker.closed()) {
    attacker.poll();
    std::this_thread::sleep_for(50ms);
  }
  std::set<uint32_t> answered;
  for (const Frame& f : attacker.frames()) {
    if (f.type == kHeaders) answered.insert(f.stream_id);
  }
  return answered;
}

// CVE-2023-44487 "HTTP/2 Rapid Reset": the record 2023 DDoS on Google, Cloudflare and AWS.
TEST_CASE("attack: rapid reset (HEADERS then RST_STREAM) is cut off and other clients keep calling",
          "[attack]") {
  AttackScene scene;
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        const std::string block = hpack::block(grpc_request(kUnary, scene.port()));
        const auto start = Clock::now();
        CutOff cut = flood(*attacker, start, [&](int) {
          std::string bytes;
          for (int i = 0; i < 100; ++i) {
            uint32_t id = attacker->next_stream_id();
            bytes += headers(id, block, true, true) + rst_stream(id, kCancel);
          }
          return bytes;
        }, {.max_batches = 100});  // 10,000 streams
        check_cut_off(cut);
      },
      {.protocol_error = true});
}

// CVE-2024-27316 and friends (the April 2024 "CONTINUATION flood"): header bytes that never end.
TEST_CASE("attack: a CONTINUATION flood is cut off and other clients keep calling", "[attack]") {
  AttackScene scene;
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        const auto start = Clock::now();
        attacker->send(headers(1, hpack::block(grpc_request(kUnary, scene.port())), false, true));
        const std::string more = continuation(1, hpack::literal("x-flood", std::string(1000, 'a')), false);
        std::string batch;
        for (int i = 0; i < 16; ++i) batch += more;
        check_cut_off(flood(*attacker, start, [&](int) { return batch; }, {.max_batches = 1'000}));
      },
      {.protocol_error = true});
}

// CVE-2016-6581 "HPACK Bomb": 16 KiB on the wire that decode to ~50 MB of headers.
TEST_CASE("attack: an HPACK bomb is refused with memory bounded and other clients keep calling", "[attack]") {
  AttackScene scene;
  scene.run([&] {
    auto attacker = connect(scene.port());
    // One 4000-byte literal enters the dynamic table (index 62), then ~12,000
    // one-byte references to it fill the frame: ~48 MB of header list.
    std::string block = hpack::block(grpc_request(kUnary, scene.port()));
    block += hpack::indexed_literal("x-bomb", std::string(4000, 'b'));
    const std::string reference = hpack::indexed(62);
    while (block.size() + reference.size() <= kDefaultMaxFrameSize) block += reference;
    test::EchoRequest request;
    request.set_message("bomb");
    const std::string message = echo_message(request);

    std::set<uint32_t> streams;
    const auto start = Clock::now();
    while (streams.size() < 100 && since(start) < 3s && !attacker->closed()) {
      uint32_t id = attacker->next_stream_id();
      streams.insert(id);
      attacker->send(headers(id, block, true, false) + data(id, message, true), 500ms);
      attacker->poll();
    }
    // Each bomb is refused: RST_STREAM or an error answer, or the whole connection.
    std::set<uint32_t> refused;
    int answered_ok = 0;
    auto account = [&](const Frame& f) {
      if (!streams.count(f.stream_id)) return;
      if (f.type == kRstStream) refused.insert(f.stream_id);
      if (f.type == kHeaders && (f.flags & kFlagEndStream)) {
        if (f.header("grpc-status") == "0") {
          ++answered_ok;
        } else {
          refused.insert(f.stream_id);
        }
      }
    };
    for (const Frame& f : attacker->frames()) account(f);
    attacker->read_until(
        [&](const Frame& f) {
          account(f);
          return refused.size() + answered_ok >= streams.size();
        },
        kCutOffWithin);
    INFO(streams.size() << " bombs sent; " << refused.size() << " refused, " << answered_ok << " answered OK; "
                        << attacker->cut_off(start).describe());
    CHECK(answered_ok == 0);
    CHECK((refused.size() == streams.size() || attacker->cut_off(start).by({kEnhanceYourCalm, kProtocolError,
                                                                              kInternalError})));
  });
}

// CVE-2019-9517 "Internal Data Buffering" with a zero window (also the "Zero Window" DoS of the same advisory).
TEST_CASE("attack: streams opened with a zero window cost other clients nothing", "[attack]") {
  AttackScene scene;
  scene.run([&] {
    auto attacker = connect(scene.port(), {{kSettingsInitialWindowSize, 0}});
    const size_t answered = hold_server_streams(*attacker, scene.port(), 200, 1'000, 5s).size();
    INFO(answered << " streams answered, " << attacker->data_bytes_received() << " DATA bytes received");
    CHECK(answered > 0);                          // the calls reached the pod
    CHECK(attacker->data_bytes_received() == 0);  // and the proxy kept to the window
  });
}

// Slowloris for request bodies ("slow POST", R-U-Dead-Yet): bytes trickle in on many streams.
TEST_CASE("attack: request bodies dribbled a byte at a time on many streams cost other clients nothing",
          "[attack]") {
  AttackScene scene;
  scene.run([&] {
    auto attacker = connect(scene.port());
    test::EchoRequest request;
    request.set_payload(std::string(1000, 'd'));
    const std::string message = echo_message(request);
    std::vector<uint32_t> streams;
    for (int i = 0; i < 200; ++i) streams.push_back(attacker->open_stream(grpc_request(kUnary, scene.port()), false));
    const auto start = Clock::now();
    size_t offset = 0;
    for (; since(start) < 5s && offset + 1 < message.size() && !attacker->closed(); ++offset) {
      std::string round;
      for (uint32_t id : streams) round += data(id, message.substr(offset, 1), false);
      attacker->send(round, 200ms);
      attacker->poll();
      std::this_thread::sleep_for(50ms);
    }
    INFO("dribbled " << offset << " bytes on each of " << streams.size() << " streams");
    CHECK(offset > 20);  // the proxy kept taking them
  });
}

// CVE-2019-9512 "Ping Flood".
TEST_CASE("attack: a PING flood that never reads is cut off and other clients keep calling", "[attack]") {
  AttackScene scene;
  scene.run([&] { unread_control_flood(scene.port(), ping(0x0123456789abcdefull)); }, {.protocol_error = true});
}

// CVE-2019-9515 "Settings Flood".
TEST_CASE("attack: a SETTINGS flood that never reads is cut off and other clients keep calling", "[attack]") {
  AttackScene scene;
  scene.run([&] { unread_control_flood(scene.port(), settings({{kSettingsInitialWindowSize, 65535}})); },
            {.protocol_error = true});
}

// CVE-2019-9513 "Resource Loop": PRIORITY frames that keep reshuffling the dependency tree.
TEST_CASE("attack: a PRIORITY flood costs other clients nothing", "[attack]") {
  AttackScene scene;
  scene.run([&] {
    auto attacker = connect(scene.port());
    const auto start = Clock::now();
    uint32_t sent = 0;
    flood(*attacker, start, [&](int round) {
      std::string bytes;
      for (int i = 0; i < 1000; ++i, ++sent) {
        uint32_t id = 2 * (sent % 5000) + 1;
        uint32_t parent = 2 * ((sent * 7919 + static_cast<uint32_t>(round)) % 5000) + 1;
        if (parent != id) bytes += priority(id, parent, static_cast<uint8_t>(sent), sent % 3 == 0);
      }
      return bytes;
    });
    INFO(sent << " PRIORITY frames offered; " << attacker->cut_off(start).describe());
    CHECK(sent >= 10'000);
  });
}

// CVE-2019-9518 "Empty Frames Flood" (DATA).
TEST_CASE("attack: an empty DATA frame flood is cut off with ENHANCE_YOUR_CALM within a second and other clients keep calling",
          "[attack]") {
  AttackScene scene;
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        uint32_t id = attacker->open_stream(grpc_request(kClientStream, scene.port()), false);
        const auto start = Clock::now();
        std::string batch;
        for (int i = 0; i < 1000; ++i) batch += data(id, "", false);
        CutOff cut = flood(*attacker, start, [&](int) { return batch; }, {.limit = 3s});
        INFO("attacker saw: " << cut.describe());
        CHECK((cut.goaway_error == kEnhanceYourCalm || cut.goaway_error == kProtocolError));
        CHECK((cut.after && *cut.after <= 1s));
      },
      {.protocol_error = true});
}

// CVE-2019-9518 "Empty Frames Flood" (HEADERS and CONTINUATION).
TEST_CASE("attack: an empty HEADERS or CONTINUATION frame flood is cut off and other clients keep calling",
          "[attack]") {
  AttackScene scene;
  std::function<std::string(H2RawClient&)> batch;
  SECTION("empty CONTINUATION frames after a HEADERS without END_HEADERS") {
    batch = [&, opened = false](H2RawClient& attacker) mutable {
      std::string bytes;
      if (!opened) bytes += headers(attacker.next_stream_id(), hpack::block(grpc_request(kUnary, scene.port())),
                                    false, true);  // stream 1
      opened = true;
      for (int i = 0; i < 1000; ++i) bytes += continuation(1, "", false);
      return bytes;
    };
  }
  SECTION("empty HEADERS frames, each opening a stream") {
    batch = [](H2RawClient& attacker) {
      std::string bytes;
      for (int i = 0; i < 1000; ++i) bytes += headers(attacker.next_stream_id(), "", true, true);
      return bytes;
    };
  }
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        const auto start = Clock::now();
        check_cut_off(flood(*attacker, start, [&](int) { return batch(*attacker); }, {.max_batches = 1'000}));
      },
      {.protocol_error = true});
}

// Stream-limit abuse: more concurrent streams than the server allows (the
// limit HTTP/2 servers rely on against request floods, cf. CVE-2019-9511 and CVE-2023-44487).
TEST_CASE("attack: streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused and other clients keep calling",
          "[attack]") {
  AttackScene scene;
  scene.run([&] {
    auto attacker = std::make_unique<H2RawClient>(scene.port());
    REQUIRE(attacker->start());
    auto server_settings =
        attacker->read_until([](const Frame& f) { return f.type == kSettings && !(f.flags & kFlagAck); }, 5s);
    REQUIRE(server_settings);
    uint32_t limit = 0;
    for (size_t at = 0; at + 6 <= server_settings->payload.size(); at += 6) {
      uint16_t id = static_cast<uint16_t>(static_cast<uint8_t>(server_settings->payload[at]) << 8 |
                                          static_cast<uint8_t>(server_settings->payload[at + 1]));
      if (id != kSettingsMaxConcurrentStreams) continue;
      for (int b = 2; b < 6; ++b) limit = limit << 8 | static_cast<uint8_t>(server_settings->payload[at + b]);
    }
    INFO("SETTINGS_MAX_CONCURRENT_STREAMS " << limit);
    REQUIRE(limit > 0);
    REQUIRE(limit <= 10'000);
    // Wait for the proxy's acknowledgement of our SETTINGS: the limit is in force.
    REQUIRE(attacker->read_until([](const Frame& f) { return f.type == kSettings && (f.flags & kFlagAck); }, 5s));

    const std::string block = hpack::block(grpc_request(kUnary, scene.port()));
    const uint32_t extra = 100;
    std::string bytes;
    for (uint32_t i = 0; i < limit + extra; ++i) bytes += headers(attacker->next_stream_id(), block, true, false);
    const auto start = Clock::now();
    attacker->send(bytes, 5s);
    const uint32_t first_over = 2 * limit + 1;
    std::set<uint32_t> refused;
    auto over_limit_refused = [&](const Frame& f) {
      if (f.type == kRstStream && f.stream_id >= first_over &&
          (f.error_code() == kRefusedStream || f.error_code() == kProtocolError)) {
        refused.insert(f.stream_id);
      }
      return refused.size() >= extra;
    };
    attacker->read_until(over_limit_refused, kCutOffWithin);
    CutOff cut = attacker->cut_off(start);
    INFO(refused.size() << " of the " << extra << " streams over the limit refused; " << cut.describe());
    CHECK((refused.size() == extra || cut.by({kEnhanceYourCalm, kProtocolError})));
  });
}

// Slowloris (2009) against the connection preface: idle and half-sent prefaces hold sockets.
TEST_CASE("attack: idle and half-preface connections are closed by the proxy's timeouts and other clients keep calling",
          "[attack]") {
  constexpr int kEach = 200;
  constexpr auto kPrefaceTimeout = 10s;  // DownstreamOptions::preface_timeout
  AttackScene scene;
  scene.run([&] {
    std::vector<std::unique_ptr<RawConnection>> idle, half;
    for (int i = 0; i < kEach; ++i) {
      idle.push_back(std::make_unique<RawConnection>("127.0.0.1", scene.port()));
      half.push_back(std::make_unique<RawConnection>("127.0.0.1", scene.port()));
      half.back()->send(std::string(client_preface().substr(0, 14)));
    }
    const auto deadline = Clock::now() + kPrefaceTimeout + 3s;
    auto count_closed = [&](std::vector<std::unique_ptr<RawConnection>>& connections) {
      int closed = 0;
      for (auto& c : connections) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        closed += c->wait_closed(std::max(left, 1ms));
      }
      return closed;
    };
    const int idle_closed = count_closed(idle);
    const int half_closed = count_closed(half);
    INFO(idle_closed << " of " << kEach << " idle and " << half_closed << " of " << kEach
                     << " half-preface connections closed by the proxy");
    CHECK(idle_closed == kEach);
    CHECK(half_closed == kEach);
  });
}

// Malformed frames of every kind (the bread and butter of h2 fuzzers and of
// CVE-2019-9514 "Reset Flood"-style stream errors).
TEST_CASE("attack: malformed frames get PROTOCOL_ERROR and other clients keep calling", "[attack]") {
  AttackScene scene;
  scene.run(
      [&] {
        const std::string block = hpack::block(grpc_request(kUnary, scene.port()));
        const std::string open_1 = headers(1, block, true, false);
        struct ConnectionCase {
          const char* name;
          std::string bytes;
          bool settings_first = true;
        };
        const std::vector<ConnectionCase> connection_cases = {
            {"DATA on stream 0", data(0, "x", false)},
            {"HEADERS on stream 0", headers(0, block, true, true)},
            {"RST_STREAM on stream 0", rst_stream(0, kCancel)},
            {"PRIORITY on stream 0", priority(0, 1, 16)},
            {"SETTINGS on stream 1", frame(kSettings, 0, 1, "")},
            {"PING on stream 1", frame(kPing, 0, 1, std::string(8, '\0'))},
            {"SETTINGS of 5 bytes", frame(kSettings, 0, 0, std::string(5, '\0'))},
            {"PING of 7 bytes", frame(kPing, 0, 0, std::string(7, '\0'))},
            {"WINDOW_UPDATE of 3 bytes", frame(kWindowUpdate, 0, 0, std::string(3, '\0'))},
            {"RST_STREAM of 3 bytes", open_1 + frame(kRstStream, 0, 1, std::string(3, '\0'))},
            {"a frame over SETTINGS_MAX_FRAME_SIZE", open_1 + frame_header(kDefaultMaxFrameSize + 1, kData, 0, 1)},
            {"a zero WINDOW_UPDATE on the connection", window_update(0, 0)},
            {"CONTINUATION without HEADERS", continuation(1, block, true)},
            {"padding longer than the frame", open_1 + frame(kData, kFlagPadded, 1, "\x05xx")},
            {"a first frame that is not SETTINGS", ping(1), false},
        };
        for (const auto& c : connection_cases) {
          H2RawClient attacker(scene.port());
          const auto start = Clock::now();
          attacker.send(std::string(client_preface()) + (c.settings_first ? settings() : "") + c.bytes);
          CutOff cut = attacker.wait_cut_off(kCutOffWithin, start);
          INFO(c.name << ": " << cut.describe());
          CHECK((cut.goaway_error == kProtocolError || cut.goaway_error == kFrameSizeError));
          CHECK(cut.closed);
        }

        // Malformed requests are stream errors: the stream is reset, the connection lives on.
        test::EchoRequest request;
        request.set_message("after");
        const std::string message = echo_message(request);
        const std::vector<std::pair<const char*, Headers>> stream_cases = {
            {"an unknown pseudo-header", {{":method", "POST"}, {":scheme", "http"}, {":path", kUnary},
                                          {":authority", "a"}, {":foo", "bar"}}},
            {"an uppercase header name", {{":method", "POST"}, {":scheme", "http"}, {":path", kUnary},
                                          {":authority", "a"}, {"X-Upper", "1"}}},
            {"no :path", {{":method", "POST"}, {":scheme", "http"}, {":authority", "a"}}},
            {"a pseudo-header after a regular header", {{":method", "POST"}, {":scheme", "http"}, {"x-a", "1"},
                                                        {":path", kUnary}, {":authority", "a"}}},
            {"a connection-specific header", {{":method", "POST"}, {":scheme", "http"}, {":path", kUnary},
                                              {":authority", "a"}, {"connection", "keep-alive"}}},
        };
        for (const auto& [name, bad] : stream_cases) {
          auto attacker = connect(scene.port());
          uint32_t id = attacker->open_stream(bad, true);
          auto reset = attacker->read_until([&](const Frame& f) { return f.type == kRstStream && f.stream_id == id; },
                                            kCutOffWithin);
          uint32_t good = attacker->open_stream(grpc_request(kUnary, scene.port()), false);
          attacker->send(data(good, message, true));
          auto answer = attacker->read_until(
              [&](const Frame& f) { return f.type == kHeaders && f.stream_id == good && !f.header("grpc-status").empty(); },
              kCutOffWithin);
          INFO(name << ": " << (reset ? "RST_STREAM " + error_name(reset->error_code()) : "no RST_STREAM")
                    << "; next call on the connection: " << (answer ? "grpc-status " + answer->header("grpc-status")
                                                                   : attacker->cut_off(Clock::now()).describe()));
          CHECK((reset && reset->error_code() == kProtocolError));
          CHECK((answer && answer->header("grpc-status") == "0"));
        }
      },
      {.protocol_error = true});
}

// Port scanners, TLS clients on the cleartext port, and request smuggling probes.
TEST_CASE("attack: garbage instead of a preface is closed at once and malformed HTTP/1 gets 400 and other clients keep calling",
          "[attack]") {
  AttackScene scene;
  scene.run(
      [&] {
        std::mt19937 random(20240403);
        std::string noise(256, '\0');
        for (size_t i = 1; i < noise.size(); ++i) noise[i] = static_cast<char>(random());
        const std::string client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + noise.substr(0, 64));
        // The HTTP/2 preface with its second line wrong, then frames; and one breaking off into binary.
        const std::string broken_preface = "PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n" + settings() + ping(1);
        const std::string preface_then_noise = std::string(client_preface().substr(0, 10)) + noise;
        for (const auto& [name, bytes] : {std::pair{"random bytes", noise}, std::pair{"a TLS ClientHello", client_hello},
                                          std::pair{"a broken HTTP/2 preface", broken_preface},
                                          std::pair{"the preface breaking off into binary", preface_then_noise}}) {
          RawConnection connection("127.0.0.1", scene.port());
          const auto start = Clock::now();
          connection.send(bytes);
          const bool closed = connection.wait_closed(1s);
          INFO(name << ": " << (closed ? "closed" : "still open") << " after " << since(start).count() << " ms");
          CHECK(closed);
        }
        for (const std::string request : {"GET / HTTP/9.9\r\n\r\n", "FOO\r\n\r\n"}) {
          RawConnection connection("127.0.0.1", scene.port());
          connection.send(request);
          std::string received;
          const bool closed = connection.wait_closed(3s, &received);
          auto responses = parse_responses(received);
          INFO(request << " -> " << (closed ? "closed" : "still open") << " after: " << received);
          REQUIRE(responses.size() == 1);
          // HTTP/9.9 may be told 505 (HTTP Version Not Supported), as docs/routing.md documents.
          CHECK((responses[0].status == 400 || (request.find("9.9") != std::string::npos && responses[0].status == 505)));
          CHECK(closed);
        }
      },
      {.protocol_error = true});
}

// The slow-read attack (Slow Read DoS, and CVE-2019-9517 "Internal Data
// Buffering"): a client that never opens its window holds 100 big server streams.
TEST_CASE("attack: a slow reader holding 100 server streams costs other callers of the same pod nothing",
          "[attack][slow-reader]") {
  AttackScene scene;
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        const auto start = Clock::now();
        auto answered = hold_server_streams(*attacker, scene.port(), 100, 10'000, 10s);
        INFO(answered.size() << " streams answered, " << attacker->data_bytes_received() << " DATA bytes; "
                             << attacker->cut_off(start).describe());
        CHECK(!answered.empty());
        CHECK(attacker->data_bytes_received() <= kDefaultWindow);
      },
      {.min_success = 1.0});
}

// The other direction: a client pushes big bodies as fast as the windows
// allow to a pod that has stopped reading. test-pod's ClientStream reads as
// fast as it can, so the stalled pod is made with Bidi: it echoes every 1 MiB
// message, the uploader never opens its own window, so the pod's writes block
// and its handler stops reading (its gRPC transport still buffers a few
// hundred MiB first). The proxy must pass the stall back to the uploader.
TEST_CASE("attack: a fast uploader to a pod that stopped reading costs other callers of the same pod nothing",
          "[attack][slow-reader]") {
  AttackScene scene;
  scene.run(
      [&] {
        auto attacker = connect(scene.port());
        test::EchoRequest request;
        request.set_payload(std::string(1 << 20, 'u'));
        const std::string message = echo_message(request);
        struct Upload {
          uint32_t id;
          size_t offset = 0;
        };
        std::vector<Upload> uploads;
        for (int i = 0; i < 20; ++i) uploads.push_back({attacker->open_stream(grpc_request(kBidi, scene.port()), false)});
        // Upload until the windows stay shut for a second, then hold the stall 3 s more.
        const auto start = Clock::now();
        auto last_progress = start;
        std::optional<Clock::time_point> stalled_at;
        uint64_t uploaded = 0;
        while (since(start) < 20s && !attacker->closed() && !(stalled_at && Clock::now() - *stalled_at > 3s)) {
          attacker->poll();
          size_t sent_now = 0;
          for (Upload& u : uploads) {
            size_t n = attacker->send_within_window(u.id, std::string_view(message).substr(u.offset, 64 * 1024));
            u.offset = (u.offset + n) % message.size();
            sent_now += n;
          }
          uploaded += sent_now;
          if (sent_now > 0) last_progress = Clock::now();
          if (!stalled_at && Clock::now() - last_progress > 1s) stalled_at = Clock::now();
          if (sent_now == 0) std::this_thread::sleep_for(20ms);
        }
        INFO("uploaded " << (uploaded >> 20) << " MiB; "
                         << (stalled_at ? "stalled after " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*stalled_at - start).count()) + " ms"
                                        : std::string("never stalled"))
                         << "; " << attacker->cut_off(start).describe());
        CHECK(uploaded > 0);
        CHECK(stalled_at.has_value());  // back-pressure reached the uploader
      },
      {.min_success = 1.0});
}

}  // namespace
}  // namespace grpc_ingress::testing
