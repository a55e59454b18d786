#include "dataplane/access_log.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

namespace {

constexpr uint32_t kNoError = 0x0, kInternalError = 0x2, kRefusedStream = 0x7, kCancel = 0x8,
                   kEnhanceYourCalm = 0xb;

std::pair<std::string, std::string> label_of(const ProxyStream& stream, uint32_t h2_error_code) {
  auto [name, value] = code_label(request_outcome(stream, h2_error_code).code_slot);
  return {name, value};
}

std::shared_ptr<ProxyStream> grpc_stream() {
  auto stream = ProxyStream::make(1, 1, std::weak_ptr<DownstreamSide>());
  stream->grpc = true;
  return stream;
}

}  // namespace

TEST_CASE("a gRPC call counts the grpc-status its client got, by name", "[access_log]") {
  auto stream = grpc_stream();
  stream->response_started = true;
  stream->response.status = 200;
  stream->response.trailers = {{"grpc-status", "5"}};
  stream->response.ended = true;
  CHECK(label_of(*stream, kNoError) == std::pair<std::string, std::string>("grpc_code", "NOT_FOUND"));

  auto trailers_only = grpc_stream();
  trailers_only->response.headers = {{"grpc-status", "14"}};
  trailers_only->response.trailers_only = true;
  trailers_only->response.ended = true;
  CHECK(label_of(*trailers_only, kNoError) == std::pair<std::string, std::string>("grpc_code", "UNAVAILABLE"));
}

TEST_CASE("a gRPC call reset before its status counts as its client's library reports it", "[access_log]") {
  // The client gave up (RST_STREAM CANCEL, or its connection went away): CANCELLED.
  auto cancelled = grpc_stream();
  CHECK(label_of(*cancelled, kCancel) == std::pair<std::string, std::string>("grpc_code", "CANCELLED"));
  cancelled->response_started = true;  // also after some response messages
  CHECK(label_of(*cancelled, kCancel) == std::pair<std::string, std::string>("grpc_code", "CANCELLED"));
  // Reset by a buffer budget (ENHANCE_YOUR_CALM), refused, or broken, as the gRPC HTTP/2 mapping says.
  CHECK(label_of(*grpc_stream(), kEnhanceYourCalm) ==
        std::pair<std::string, std::string>("grpc_code", "RESOURCE_EXHAUSTED"));
  CHECK(label_of(*grpc_stream(), kRefusedStream) == std::pair<std::string, std::string>("grpc_code", "UNAVAILABLE"));
  CHECK(label_of(*grpc_stream(), kInternalError) == std::pair<std::string, std::string>("grpc_code", "INTERNAL"));
  // An answer without grpc-status: by its HTTP status.
  auto http_answer = grpc_stream();
  http_answer->response_started = true;
  http_answer->response.status = 503;
  http_answer->response.ended = true;
  CHECK(label_of(*http_answer, kNoError) == std::pair<std::string, std::string>("grpc_code", "UNAVAILABLE"));
  http_answer->response.status = 404;
  CHECK(label_of(*http_answer, kNoError) == std::pair<std::string, std::string>("grpc_code", "UNIMPLEMENTED"));
}

TEST_CASE("a plain HTTP request counts its status as http_code, or none when reset before an answer",
          "[access_log]") {
  auto stream = ProxyStream::make(1, 1, std::weak_ptr<DownstreamSide>());
  CHECK(label_of(*stream, kCancel) == std::pair<std::string, std::string>("http_code", "none"));
  stream->response_started = true;
  stream->response.status = 302;
  stream->response.ended = true;
  CHECK(label_of(*stream, kNoError) == std::pair<std::string, std::string>("http_code", "302"));
  stream->response.status = 418;
  CHECK(label_of(*stream, kNoError) == std::pair<std::string, std::string>("http_code", "4xx"));
}
