#include "common/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace grpc_ingress {
namespace {

// Fields of /proc/self/stat after the command name, which may hold spaces.
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;  // fields[0] is field 3 (state)
}

// Boot time from now and /proc/uptime (fractional), finer than /proc/stat's
// whole-second btime.
double boot_time_seconds() {
  std::ifstream in("/proc/uptime");
  double uptime = 0;
  in >> uptime;
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - uptime;
}

}  // namespace

void write_process_metrics(MetricsWriter& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  auto fields = stat_fields();
  auto field = [&](size_t number) {  // man 5 proc numbering
    return number >= 3 && number - 3 < fields.size() ? std::stod(fields[number - 3]) : 0.0;
  };
  out.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", (field(14) + field(15)) / ticks);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", field(24) * page);
  out.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  out.sample("process_virtual_memory_bytes", field(23));
  out.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", boot_time_seconds() + field(22) / ticks);

  std::error_code ec;
  double open_fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++open_fds;
  }
  out.family("process_open_fds", "gauge", "Number of open file descriptors.");
  out.sample("process_open_fds", open_fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out.sample("process_max_fds", static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace grpc_ingress
