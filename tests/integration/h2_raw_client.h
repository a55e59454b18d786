#pragma once

// A raw HTTP/2 client for the attack tests: frames built by hand (9-byte
// header + payload) and written to a plain TCP socket, so a test can send what
// no real client would (floods, bad lengths, endless CONTINUATION), and a
// reader that parses what the proxy answers (GOAWAY, RST_STREAM, HEADERS) and
// notices the connection closing. Every wait is bounded. One thread only.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct nghttp2_hd_inflater;

namespace grpc_ingress::testing::h2 {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Frame types, flags, settings and error codes (RFC 9113).
enum FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};
inline constexpr uint8_t kFlagEndStream = 0x1;
inline constexpr uint8_t kFlagAck = 0x1;
inline constexpr uint8_t kFlagEndHeaders = 0x4;
inline constexpr uint8_t kFlagPadded = 0x8;
inline constexpr uint8_t kFlagPriority = 0x20;

inline constexpr uint16_t kSettingsHeaderTableSize = 0x1;
inline constexpr uint16_t kSettingsMaxConcurrentStreams = 0x3;
inline constexpr uint16_t kSettingsInitialWindowSize = 0x4;
inline constexpr uint16_t kSettingsMaxFrameSize = 0x5;

inline constexpr uint32_t kNoError = 0x0;
inline constexpr uint32_t kProtocolError = 0x1;
inline constexpr uint32_t kInternalError = 0x2;
inline constexpr uint32_t kFlowControlError = 0x3;
inline constexpr uint32_t kStreamClosed = 0x5;
inline constexpr uint32_t kFrameSizeError = 0x6;
inline constexpr uint32_t kRefusedStream = 0x7;
inline constexpr uint32_t kCancel = 0x8;
inline constexpr uint32_t kEnhanceYourCalm = 0xb;

inline constexpr uint32_t kDefaultWindow = 65535;
inline constexpr size_t kDefaultMaxFrameSize = 16384;

// "PROTOCOL_ERROR (1)".
std::string error_name(uint32_t code);

// ---- frames ----

std::string_view client_preface();  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
// A frame header claiming `length` payload bytes (for bad lengths).
std::string frame_header(uint32_t length, uint8_t type, uint8_t flags, uint32_t stream_id);
std::string frame(uint8_t type, uint8_t flags, uint32_t stream_id, std::string_view payload);
std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& entries = {});
std::string settings_ack();
std::string ping(uint64_t opaque, bool ack = false);
std::string priority(uint32_t stream_id, uint32_t depends_on, uint8_t weight, bool exclusive = false);
std::string window_update(uint32_t stream_id, uint32_t increment);
std::string rst_stream(uint32_t stream_id, uint32_t error_code);
std::string goaway(uint32_t last_stream_id, uint32_t error_code, std::string_view debug = "");
std::string headers(uint32_t stream_id, std::string_view block, bool end_headers, bool end_stream);
std::string continuation(uint32_t stream_id, std::string_view block, bool end_headers);
// `pad_length` set: PADDED, with that many zero bytes after the data.
std::string data(uint32_t stream_id, std::string_view bytes, bool end_stream,
                 std::optional<uint8_t> pad_length = std::nullopt);

// ---- HPACK by hand (RFC 7541), so a test controls every byte ----

namespace hpack {
// An integer with an N-bit prefix; `first_byte_bits` are the bits above the prefix.
std::string integer(uint64_t value, int prefix_bits, uint8_t first_byte_bits);
// Literal without indexing, new name (the decoder's tables are not touched).
std::string literal(std::string_view name, std::string_view value);
// Literal with incremental indexing, new name: added to the dynamic table as index 62.
std::string indexed_literal(std::string_view name, std::string_view value);
// An indexed field: a reference to table entry `index`.
std::string indexed(uint64_t index);
// Every header as literal(); order kept.
std::string block(const Headers& headers);
}  // namespace hpack

// A gRPC message: the 5-byte length prefix (uncompressed) and `message`.
std::string grpc_frame(std::string_view message);
// The headers of a gRPC call of `path` to 127.0.0.1:`port`.
Headers grpc_request(std::string_view path, uint16_t port);

// ---- what the proxy sends ----

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream_id = 0;
  std::string payload;  // HEADERS: the header block of HEADERS + CONTINUATION, padding removed
  Headers headers;      // HEADERS: decoded

  uint32_t error_code() const;  // GOAWAY, RST_STREAM
  // A header of a HEADERS frame, or "".
  std::string header(std::string_view name) const;
};

// How an attack connection ended, as the attacker saw it.
struct CutOff {
  bool closed = false;                   // EOF or reset from the proxy
  std::optional<uint32_t> goaway_error;  // the first GOAWAY's error code
  std::optional<std::chrono::milliseconds> after;  // when it was seen, from the attack's start

  // A GOAWAY with one of `codes`, or the connection closed.
  bool by(std::initializer_list<uint32_t> codes) const;
  std::string describe() const;
};

class H2RawClient {
 public:
  // Connects to 127.0.0.1:`port` (throws on failure); sends nothing yet. A
  // small `receive_buffer` makes the proxy's writes back up sooner when the
  // test does not read.
  explicit H2RawClient(uint16_t port, std::optional<int> receive_buffer = std::nullopt);
  ~H2RawClient();
  H2RawClient(const H2RawClient&) = delete;
  H2RawClient& operator=(const H2RawClient&) = delete;

  // The preface and a SETTINGS frame with `entries`.
  bool start(const std::vector<std::pair<uint16_t, uint32_t>>& entries = {});

  // Queues `bytes` and writes what the socket takes within `timeout`; false
  // once the connection is closed. Bytes not yet written stay queued, in order.
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // Bytes queued but not yet taken by the socket (the proxy is not reading).
  size_t unsent() const { return out_.size(); }

  // The next stream id (1, 3, 5, ...), taken.
  uint32_t next_stream_id();
  // HEADERS (split into CONTINUATION frames past 16 KiB) on a new stream.
  uint32_t open_stream(const Headers& request, bool end_stream);

  // The next frame from the proxy, waiting at most `timeout`.
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout);
  // Reads (without waiting longer than `timeout`) until `done(frame)` holds;
  // the matching frame, or nullopt on timeout or close.
  template <typename Done>
  std::optional<Frame> read_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto frame = read_frame(left);
      if (frame && done(*frame)) return frame;
    }
    return std::nullopt;
  }
  // Reads whatever has arrived, without waiting; keeps the frames for frames().
  void poll();
  // Reads frames until the proxy cuts the connection off (GOAWAY with an
  // error, or close) or `timeout` passes; `since` is when the attack began.
  CutOff wait_cut_off(std::chrono::milliseconds timeout, Clock::time_point since);
  // Waits up to `timeout` for the proxy to drop the connection (reset, or a
  // FIN) without reading anything: how a client that never reads is cut off.
  bool wait_dropped_unread(std::chrono::milliseconds timeout);
  // What has been seen so far (GOAWAY, close), timed from `since`.
  CutOff cut_off(Clock::time_point since) const;

  // Frames read by poll() and wait_cut_off(), in order (read_frame returns its own).
  const std::vector<Frame>& frames() const { return seen_; }
  bool closed() const { return closed_; }
  std::optional<uint32_t> goaway_error() const { return goaway_error_; }
  // Bytes of DATA payload received, all streams.
  uint64_t data_bytes_received() const { return data_bytes_; }
  // Flow control towards the proxy, from its SETTINGS and WINDOW_UPDATEs.
  int64_t connection_send_window() const { return connection_window_; }
  int64_t stream_send_window(uint32_t stream_id) const;
  // Sends DATA on `stream_id` up to what the windows allow (at most `bytes`),
  // in frames of at most 16 KiB; returns the bytes sent.
  size_t send_within_window(uint32_t stream_id, std::string_view bytes);

  // SETTINGS from the proxy are acknowledged as they are read (default on).
  void set_auto_ack(bool on) { auto_ack_ = on; }

 private:
  bool flush(Clock::time_point deadline);
  // Reads once, waiting at most `timeout`; false on timeout or close.
  bool receive(std::chrono::milliseconds timeout);
  std::optional<Frame> parse_frame();
  void observe(Frame& frame);
  void decode_headers(Frame& frame);
  void mark_closed();

  int fd_ = -1;
  bool closed_ = false;
  bool auto_ack_ = true;
  std::string in_;
  std::string out_;
  std::string pending_block_;        // HEADERS waiting for its CONTINUATION
  std::optional<Frame> pending_headers_;
  std::vector<Frame> seen_;
  std::optional<uint32_t> goaway_error_;
  std::optional<Clock::time_point> goaway_at_;
  std::optional<Clock::time_point> closed_at_;
  uint64_t data_bytes_ = 0;
  uint32_t next_stream_id_ = 1;
  int64_t connection_window_ = kDefaultWindow;
  int64_t initial_stream_window_ = kDefaultWindow;
  std::map<uint32_t, int64_t> stream_window_delta_;  // WINDOW_UPDATEs and DATA sent, per stream
  nghttp2_hd_inflater* inflater_ = nullptr;
};

}  // namespace grpc_ingress::testing::h2
