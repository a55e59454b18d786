#!/usr/bin/env bash
# grpc-ingress benchmarks against nghttpx, nginx, haproxy and direct-to-pod.
#
#   bench/run.sh [load] [--build-dir build] [--duration 10] [--rounds 3] ...   (`make bench`)
#   bench/run.sh robustness [--pods 3] [--rate 300] [--step-seconds 3] ...     (bench/robustness.sh)
#
# Needs nghttpx (nghttp2-proxy), nginx, haproxy, h2load (nghttp2-client) and a built tree (`make build`). Prints a
# markdown report and writes it to bench/results/ (latest.md, robustness.md).
# `bench/run.sh load --help` lists every option. Everything it starts listens on
# 127.0.0.x and is stopped by PID at the end.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
if [[ ! -x "$PYTHON" ]]; then
  echo "bench: $PYTHON not found (Debian package python3)" >&2
  exit 1
fi
mode=load
if [[ "${1:-}" == load || "${1:-}" == robustness ]]; then
  mode="$1"
  shift
fi
exec "$PYTHON" "$BENCH_DIR/bench.py" "$mode" "$@"
