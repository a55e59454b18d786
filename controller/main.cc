#include "common/flags.h"
#include "common/log.h"

#include <iostream>

int main(int argc, char** argv) {
  using namespace grpc_ingress;
  auto flags = parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags) {
    std::cerr << "grpc-ingress: " << flags.error().message << "\n";
    return 2;
  }
  if (flags->help) {
    std::cout << flags_usage();
    return 0;
  }
  if (auto status = init_logging(flags->log_format, flags->log_level); !status) {
    std::cerr << "grpc-ingress: " << status.error().message << "\n";
    return 2;
  }
  return 0;
}
