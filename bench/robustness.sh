#!/usr/bin/env bash
# grpc-ingress robustness benchmark (`make bench-robustness`): failed gRPC calls through
# grpc-ingress, nginx and haproxy, driven at once, while the pods behind them roll, crash
# and restart. Options: `bench/robustness.sh --help`. Report: bench/results/robustness.md.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" robustness "$@"
