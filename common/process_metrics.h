#pragma once

#include "common/metrics.h"

namespace grpc_ingress {

// The standard process_* families (CPU, memory, file descriptors, start
// time), read from /proc/self at scrape time.
void write_process_metrics(MetricsWriter& out);

}  // namespace grpc_ingress
