// The decoding boundary for Kubernetes objects: JSON from the API server or a
// manifest in, typed objects (or InvalidObject with a reason) out. It must
// never throw, whatever the JSON holds.

#include "controller/translate/k8s_objects.h"
#include "controller/object_decoder.h"
#include "tests/fuzz/fuzz_input.h"

#include <nlohmann/json.hpp>

#include <cstdint>

using namespace grpc_ingress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  if (auto object = decode_object(json)) {
    (void)kind_of(*object);
    (void)key_of(*object).to_string();
  }
  // As the items of a typed list, where kind and apiVersion may be missing.
  for (ObjectKind kind : kAllObjectKinds) {
    Object object = decode_object_as(kind, json);
    (void)key_of(object).to_string();
  }
  return 0;
}
