// The Ingress annotation parsers (grpc-ingress.io/ and the ingress-nginx
// ones with the same meaning, their classification, the security ones):
// every key and value is user text.
//   Lines of "key=value"; a key without '/' is one of ours
//   ("retries=3" is grpc-ingress.io/retries).

#include "controller/translate/annotations.h"
#include "controller/translate/k8s_objects.h"
#include "tests/fuzz/fuzz_input.h"

#include <cstdint>
#include <string>

using namespace grpc_ingress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  ObjectMeta meta;
  meta.namespace_name = "default";
  meta.name = "fuzz";
  while (!input.empty()) {
    std::string_view line = input.until('\n');
    size_t equals = line.find('=');
    std::string key(line.substr(0, equals));
    std::string value(equals == std::string_view::npos ? std::string_view() : line.substr(equals + 1));
    if (key.find('/') == std::string::npos) key = "grpc-ingress.io/" + key;
    meta.annotations[key] = value;
  }
  IngressOptions options = read_annotations(meta);
  // The operator's flag only turns unsupported security annotations into warnings.
  IngressOptions allowed = read_annotations(meta, {.allow_unsupported_security = true});
  fuzz::check(allowed.refusals.size() + options.unsupported_security.size() == options.refusals.size());
  fuzz::check(allowed.access == options.access);
  // A refused Ingress is never routed; a served one has only readable protections.
  if (const auto& auth = options.access.external_auth) {
    fuzz::check(!auth->host.empty() && auth->port != 0 && auth->path.starts_with('/'));
    fuzz::check(auth->method == "GET" || auth->method == "POST");
  }
  if (options.access.rate_limit) fuzz::check(options.access.rate_limit->burst_multiplier >= 1);
  if (options.access.client_cert != ClientCertMode::kOff) fuzz::check(options.client_ca_secret.has_value());
  // What the cluster builder and the balancers count on, whatever was written.
  fuzz::check(options.cluster.policy != LoadBalancePolicy::kRingHash || !options.cluster.hash_header.empty());
  fuzz::check(options.cluster.outlier_detection.max_ejection >= options.cluster.outlier_detection.base_ejection);
  if (options.canary) fuzz::check(options.canary->weight <= options.canary->weight_total);
  return 0;
}
