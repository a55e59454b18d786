// The manifests reader (--manifests DIR): YAML or JSON text with one or more
// documents, lists flattened, every object decoded. Errors must come back as
// a Result, never as an exception, a stall or a blown stack.
//   byte 0: YAML (even) or JSON (odd); the rest is the file's text.

#include "controller/manifest_reader.h"
#include "controller/object_decoder.h"
#include "tests/fuzz/fuzz_input.h"

#include <cstdint>

using namespace grpc_ingress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  ManifestFormat format = input.byte() % 2 ? ManifestFormat::kJson : ManifestFormat::kYaml;
  auto documents = parse_manifest(input.rest(), format);
  if (!documents) return 0;
  // What read_manifest_file does with each document.
  for (const nlohmann::json& document : *documents) {
    if (!document.is_object() || !document.contains("kind")) continue;
    (void)decode_object(document);
  }
  return 0;
}
