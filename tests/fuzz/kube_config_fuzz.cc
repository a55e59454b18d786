// The kubeconfig reader (--kubeconfig FILE): the input is the file, in a
// directory of its own so relative certificate paths find nothing.
// load_kubeconfig reads the files the config names, so inputs that could
// name one under /proc, /sys or /dev (some block a reader forever) are
// skipped; a backslash escape in a double-quoted YAML scalar could spell one.

#include "controller/kube_config.h"
#include "tests/fuzz/fuzz_input.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

using namespace grpc_ingress;

namespace {

namespace fs = std::filesystem;

// A private directory for this process, removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "kube_config_fuzz.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool may_name_a_special_file(std::string_view text) {
  for (std::string_view word : {"\\", "/proc", "/sys", "/dev"}) {
    if (text.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // The server URL alone, as the first line.
  KubeConfig parsed;
  (void)parse_server_url(text.substr(0, text.find('\n')), parsed);

  if (may_name_a_special_file(text)) return 0;
  static const ScratchDir dir;
  fs::path file = dir.path() / "config";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  auto config = load_kubeconfig(file);
  if (!config) (void)config.error().message;
  return 0;
}
