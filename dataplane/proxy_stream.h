#pragma once

#include "common/route_table.h"
#include "dataplane/buffer_account.h"
#include "dataplane/byte_queue.h"
#include "dataplane/downstream/downstream_peer.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/grpc.h"
#include "dataplane/header_list.h"
#include "dataplane/recycled_memory.h"
#include "dataplane/stats.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/container/small_vector.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress {


class ProxyStream;

// Names a stream in log lines ("[C12][S3]"); a value, so that building one
// for a debug line that is not written costs nothing.
struct StreamTag {
  uint64_t connection;
  int32_t stream;
};

// The client side of streams: the HTTP/2 server session. Worker thread only.
class DownstreamSide {
 public:
  virtual ~DownstreamSide() = default;
  // response.status / response.headers are set (maybe a trailers-only answer).
  virtual void response_headers_ready(ProxyStream& stream) = 0;
  // More response body, the trailers, or the end arrived.
  virtual void response_data_ready(ProxyStream& stream) = 0;
  // `bytes` of request body left for the pod: the client may send that much more.
  virtual void request_body_consumed(ProxyStream& stream, size_t bytes) = 0;
  // Abort the stream towards the client (RST_STREAM with an HTTP/2 error code).
  virtual void reset(ProxyStream& stream, uint32_t h2_error_code) = 0;
};

// The pod side of streams: an upstream HTTP/2 client connection. Worker thread only.
class UpstreamSide {
 public:
  virtual ~UpstreamSide() = default;
  // More request body, the trailers, or the end arrived.
  virtual void request_data_ready(ProxyStream& stream) = 0;
  // `bytes` of response body reached the client: the pod may send that much more.
  virtual void response_body_consumed(ProxyStream& stream, size_t bytes) = 0;
  // The client went away or the deadline passed: stop the stream at the pod.
  virtual void cancel(ProxyStream& stream) = 0;
};

// One attempt at serving a stream on a pod (Envoy's UpstreamRequest): the
// pod, and the connection carrying the attempt's stream there. The stream
// holds the current one; a retry begins a fresh one. The connection points
// at the stream without owning it and forgets it when the attempt ends, or
// when the stream cancels it (or dies): neither owns the other, so there is
// no cycle to break.
//
// The pod and its stats and state belong to the stream's table (which the
// stream holds), or are null for an attempt outside the running table.
struct UpstreamRequest {
  const Endpoint* endpoint = nullptr;  // the pod, in the stream's table
  EndpointStats* stats = nullptr;      // this worker's
  EndpointState* state = nullptr;      // shared by workers: health, ejection, circuit limits
  bool limited = false;                // the cluster limits streams per pod: count them in `state`
  UpstreamSide* connection = nullptr;     // null: no stream open at the pod
  int32_t id = -1;                        // the pod's stream id; -1 while waiting for the connection
  uint32_t slot = 0;                      // where the connection keeps it (StreamSlots)
  bool pending = false;                   // counted in state->pending_streams
  std::chrono::steady_clock::time_point started_at{};
};

// One request/response exchange between a client's stream and a pod's.
// Owned by the client's session (or a health probe); upstream connections
// point at it while an attempt runs. Worker thread only.
class ProxyStream : public std::enable_shared_from_this<ProxyStream> {
  // First, so that the body queues below are counted from their start to their end.
  std::shared_ptr<BufferAccount> connection_buffers_;  // the client connection's; null: not counted
  BufferAccount buffered_{connection_buffers_.get()};

 public:
  // `connection_buffers`: the client connection's account of buffered body bytes.
  ProxyStream(uint64_t connection_id, int32_t downstream_id, std::weak_ptr<DownstreamSide> downstream,
              std::shared_ptr<BufferAccount> connection_buffers = nullptr);
  ~ProxyStream();
  // A new stream, with its shared_ptr's count, in one recycled block.
  template <typename... Args>
  static std::shared_ptr<ProxyStream> make(Args&&... args) {
    return std::allocate_shared<ProxyStream>(RecycledAllocator<ProxyStream>{}, std::forward<Args>(args)...);
  }

  // Copies `text` into the stream's own bytes, for the views above and below.
  std::string_view keep(std::string_view text) { return text_.keep(text); }

  // "[C12][S3]" for log lines, formatted only when a line is written.
  StreamTag log_prefix() const { return {connection_id_, downstream_id_}; }
  int32_t downstream_id() const { return downstream_id_; }

  // --- Request, filled by the downstream session. The pseudo-headers and the
  // request id view bytes kept in the stream (keep()), or string literals.
  std::string_view method, scheme, authority, path;
  HeaderList request_headers;  // regular headers, in arrival order
  size_t request_header_bytes = 0;
  ByteQueue request_body{&buffered_};
  bool request_ended = false;
  HeaderList request_trailers;
  bool grpc = false;  // gRPC, or gRPC-Web translated to gRPC for the pod
  GrpcWebMode grpc_web = GrpcWebMode::kNone;
  std::string cors_origin;  // the Access-Control-Allow-Origin answer, when CORS applies
  bool downstream_tls = false;  // the client's connection is TLS (not what :scheme claims)
  // The client (docs/edge-access.md, "Client identity"): who connected, and the address the
  // request is judged and logged by (behind a trusted proxy, the one it
  // forwarded for; the text views the peer's or the stream's own bytes).
  std::shared_ptr<const DownstreamPeer> peer;
  IpAddress client_address;
  std::string_view client_address_text;
  void set_peer(std::shared_ptr<const DownstreamPeer> connected) {
    peer = std::move(connected);
    client_address = peer->address;
    client_address_text = peer->address_text;
  }
  // A request in flight counted against limit-connections (null: none); the
  // stream gives it back when it ends (workers share the count).
  std::shared_ptr<std::atomic<uint32_t>> in_flight_slot;

  // --- Response, filled by the upstream connection or by fail().
  struct Response {
    explicit Response(BufferAccount* account) : body(account) {}
    int status = 0;
    HeaderList headers;
    bool trailers_only = false;  // the headers end the response
    ByteQueue body;
    bool ended = false;
    HeaderList trailers;
    // Forgets the answer of an attempt that is retried: the next pod's starts afresh.
    void clear() {
      status = 0;
      headers.clear();
      trailers_only = false;
      body.clear();
      ended = false;
      trailers.clear();
    }
    // An answer made here, whole: `status`, `headers`, all of `body`.
    void answer(int answer_status, HeaderList answer_headers, std::string_view answer_body) {
      clear();
      status = answer_status;
      headers = std::move(answer_headers);
      body.append(reinterpret_cast<const uint8_t*>(answer_body.data()), answer_body.size());
      ended = true;
    }
  } response{&buffered_};
  bool response_started = false;  // headers handed to the downstream side

  // --- Routing state, owned by the Router.
  std::shared_ptr<const RouteTable> table;  // the snapshot this stream began with
  const Route* route = nullptr;
  uint32_t cluster = 0;  // the route's cluster, or its canary's
  uint32_t retries = 0;  // attempts after the first that the retry policy allowed
  // Limits per gRPC message (grpc-ingress.io/max-message-bytes); 0 = none.
  uint32_t max_message_bytes = 0;
  // Every gRPC stream's messages, for the limit and the metrics.
  GrpcMessageScanner request_messages, response_messages;
  // More than one message in a direction: a streaming call (its own histograms).
  bool streaming() const { return request_messages.messages() > 1 || response_messages.messages() > 1; }
  std::chrono::steady_clock::time_point first_response_message{};  // unset: none yet
  // Indexes into table->clusters[cluster].endpoints of the pods tried so far
  // (the stream keeps its table, so they stay valid); a call tries few.
  boost::container::small_vector<uint32_t, 4> tried_endpoints;
  // The pod serving it (or the last one tried), in `table`.
  const Endpoint* endpoint = nullptr;
  std::optional<boost::asio::steady_timer> deadline_timer;
  std::optional<boost::asio::steady_timer> idle_timer;
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  // Request body from the client: false when it broke the message limit (the
  // stream is then answered with RESOURCE_EXHAUSTED and the bytes dropped).
  bool take_request_body(const uint8_t* data, size_t n);
  // Response body from the pod, the same way.
  bool take_response_body(const uint8_t* data, size_t n);
  // Answers the request here, without a pod (the HTTP health bridge, CORS).
  void respond(int status, const std::string& body, HeaderList extra_headers = {});

  // gRPC-Web: turns the pod's response headers into what the browser expects
  // (content type, CORS); and its trailers into the trailer frame at the end
  // of the body. Both no-ops for other streams.
  void prepare_response_headers();
  void trailers_into_body();
  // Flow-control credit in bytes of the other side: base64 makes the bytes
  // queued on one side differ from those received on the other.
  size_t request_credit(size_t forwarded) { return request_bytes_.credit(forwarded); }
  size_t response_credit(size_t delivered) { return response_bytes_.credit(delivered); }

  // A frame went either way: the stream is not idle.
  void touch() { last_activity = std::chrono::steady_clock::now(); }

  // The current attempt at a pod; a retry starts a new one (begin_attempt).
  UpstreamRequest attempt;
  // The connection carrying the attempt's stream, while it runs at the pod.
  UpstreamSide* upstream() const { return attempt.connection; }

  // The request body sent so far, kept while it is small enough to replay
  // on another pod when this one refuses the stream (kMaxReplayBytes).
  ByteQueue request_replay;
  bool replayable = true;
  static constexpr size_t kMaxReplayBytes = 64 * 1024;

  // Records bytes sent upstream, for a possible replay.
  void record_sent(const uint8_t* bytes, size_t n) {
    if (!replayable) return;
    if (request_replay.size() + n > kMaxReplayBytes) {
      replayable = false;
      request_replay.clear();
      return;
    }
    request_replay.append(bytes, n);
  }

  bool closed = false;  // the downstream stream is closed; nothing more to do

  // Where the client's HTTP/2 session keeps it (StreamSlots).
  uint32_t downstream_slot = 0;

  // --- Accounting, for metrics and the access log.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string_view request_id;  // x-request-id, generated when the client sent none
  uint64_t bytes_in = 0;   // request body bytes from the client
  uint64_t bytes_out = 0;  // response body bytes to the client
  RouteStats* route_stats = nullptr;
  ClusterStats* cluster_stats = nullptr;

  // A new attempt at `endpoint` (null: none chosen, e.g. a health probe's
  // pod outside any table). The previous one must have been detached.
  // `limited`: count the attempt's stream in state->active_streams (only
  // then: the count is written by every worker).
  void begin_attempt(const Endpoint* endpoint, EndpointStats* stats, EndpointState* state, bool limited);
  // Called by the connection that takes the attempt's stream / forgets it
  // (it ended at the pod, failed, or was cancelled). Keep the gauges exact.
  void attach(UpstreamSide& connection);
  void detach_upstream();
  // The pod's response headers arrived for the current attempt.
  void upstream_answered() {
    if (cluster_stats) {
      cluster_stats->upstream_response.observe_duration(std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - attempt.started_at));
    }
  }
  // Waiting for a connection to the pod (counted against its pending limit).
  void set_pending(bool pending);

  std::shared_ptr<DownstreamSide> downstream() const { return downstream_.lock(); }

  // Ends the exchange with a proxy-made status: a trailers-only gRPC answer
  // (or an HTTP error) if nothing was answered yet, otherwise trailers with the
  // status after the body already received (gRPC) or a reset (plain HTTP).
  // `http_status`: what a plain HTTP client gets instead (0: http_status_for(status)).
  void fail(GrpcStatus status, const std::string& message, int http_status = 0);

  // Stops the deadline and idle timers (the stream is over).
  void stop_timers() {
    if (deadline_timer) deadline_timer->cancel();
    if (idle_timer) idle_timer->cancel();
  }

  // Cancels the pod's stream if it still runs (client gone, deadline passed,
  // answer retried elsewhere): the connection forgets the stream at once.
  void cancel_upstream();

  // Body bytes held for either side (request and response queues).
  uint64_t buffered_bytes() const { return buffered_.bytes(); }
  // A buffer budget was exceeded and this stream holds the most: drop its
  // bytes, stop the pod's stream and end it towards the client with
  // RESOURCE_EXHAUSTED (nothing answered yet) or RST_STREAM ENHANCE_YOUR_CALM.
  void shed(const std::string& why);

 private:
  // Bytes in on one side vs. bytes queued for the other, so credits keep the
  // windows exact when gRPC-Web text changes the size (identity otherwise).
  struct Rescale {
    uint64_t in = 0, out = 0, consumed = 0, credited = 0;
    bool scaled = false;
    void add(uint64_t received, uint64_t queued) {
      scaled = true;
      in += received;
      out += queued;
    }
    size_t credit(size_t n) {
      if (!scaled) return n;
      consumed += n;
      uint64_t target = out ? static_cast<uint64_t>(static_cast<long double>(consumed) * in / out) : in;
      target = std::min(target, in);
      size_t credit = static_cast<size_t>(target - std::min(target, credited));
      credited += credit;
      return credit;
    }
  };

  // Follows the messages of a gRPC body into the route's stats; true when one is over the limit (and the stream failed).
  bool scan_messages(GrpcMessageScanner& scanner, const uint8_t* data, size_t n, bool request);

  std::weak_ptr<DownstreamSide> downstream_;
  TextStore text_{256};  // pseudo-headers and request id: one block a call
  std::string web_text_pending_;  // base64 characters not yet a whole group of four
  Rescale request_bytes_, response_bytes_;
  int32_t downstream_id_;
  uint64_t connection_id_;
};

// The streams an HTTP/2 session holds, in one vector: adding and removing
// are O(1) and make no node per stream (a removed slot takes the last
// stream). Each side looks its streams up through nghttp2's stream user data
// and keeps its slot where `SlotOf::of(stream)` says. The client's session
// owns its streams (shared_ptr); a pod's connection only points at them.
template <typename Pointer, typename SlotOf>
class StreamSlots {
 public:
  void add(Pointer stream) {
    SlotOf::of(*stream) = static_cast<uint32_t>(streams_.size());
    streams_.push_back(std::move(stream));
  }
  // Takes `stream` out and hands back its pointer (null if not here).
  Pointer remove(ProxyStream& stream) {
    uint32_t slot = SlotOf::of(stream);
    if (slot >= streams_.size() || std::to_address(streams_[slot]) != &stream) return nullptr;
    Pointer out = std::move(streams_[slot]);
    if (slot + 1 != streams_.size()) {
      streams_[slot] = std::move(streams_.back());
      SlotOf::of(*streams_[slot]) = slot;
    }
    streams_.pop_back();
    return out;
  }
  // The pointer this holds for `stream`, which must be here.
  const Pointer& owner(ProxyStream& stream) const { return streams_[SlotOf::of(stream)]; }
  bool contains(ProxyStream& stream) const {
    uint32_t slot = SlotOf::of(stream);
    return slot < streams_.size() && std::to_address(streams_[slot]) == &stream;
  }
  // Every stream, leaving this empty (a closing session ends them all).
  std::vector<Pointer> take_all() {
    std::vector<Pointer> all = std::move(streams_);
    streams_.clear();
    return all;
  }
  const std::vector<Pointer>& all() const { return streams_; }
  size_t size() const { return streams_.size(); }
  bool empty() const { return streams_.empty(); }

 private:
  std::vector<Pointer> streams_;
};

struct DownstreamSlot {
  static uint32_t& of(ProxyStream& stream) { return stream.downstream_slot; }
};
struct UpstreamSlot {
  static uint32_t& of(ProxyStream& stream) { return stream.attempt.slot; }
};
// A client session's streams, which it owns.
using OwnedStreams = StreamSlots<std::shared_ptr<ProxyStream>, DownstreamSlot>;
// A pod connection's streams, which it serves and does not own.
using AttachedStreams = StreamSlots<ProxyStream*, UpstreamSlot>;

// Sheds the streams holding the most buffered bytes, largest first, until
// `account` is within its limit; returns how many were reset.
size_t shed_largest_streams(std::vector<std::shared_ptr<ProxyStream>>& streams, const BufferAccount& account,
                            const std::string& why);

}  // namespace grpc_ingress

template <>
struct fmt::formatter<grpc_ingress::StreamTag> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <typename Context>
  auto format(const grpc_ingress::StreamTag& tag, Context& ctx) const {
    return fmt::format_to(ctx.out(), "[C{}][S{}]", tag.connection, tag.stream);
  }
};
