"""grpc-ingress benchmarks against nginx, haproxy and direct-to-pod (Python 3 stdlib only).

  /usr/bin/python3 bench/bench.py load [options]         (bench/run.sh)
  /usr/bin/python3 bench/bench.py robustness [options]   (bench/robustness.sh)

Everything runs on 127.0.0.x; every process started is stopped by PID at the end.
Results: stdout and bench/results/latest.md (load at 8x8; other shapes load-c<C>m<M>.md) or
bench/results/robustness.md.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import perf, robustness  # noqa: E402
from lib.procs import BenchError  # noqa: E402
from lib.setup import REPO_DIR  # noqa: E402


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--build-dir", default=os.path.join(REPO_DIR, "build"),
                        help="where grpc-ingress and test-pod are (default: build)")
    common.add_argument("--proxy-threads", type=positive_int, default=2,
                        help="worker threads of grpc-ingress and haproxy, worker processes of nginx (2)")
    common.add_argument("--pods", type=positive_int, default=3, help="test-pod servers behind the proxies (3)")
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)

    load = modes.add_parser("load", parents=[common], help="throughput, latency, CPU and memory per call")
    load.add_argument("--connections", type=positive_int, default=8, help="h2load client connections (8)")
    load.add_argument("--streams", type=positive_int, default=8, help="concurrent streams per connection (8)")
    load.add_argument("--duration", type=positive_float, default=10.0, help="seconds measured per run (10)")
    load.add_argument("--warm-up", type=float, default=1.0, help="h2load warm-up seconds per run (1)")
    load.add_argument("--rounds", type=positive_int, default=3, help="runs per target, rotated order (3)")
    load.add_argument("--idle-connections", type=positive_int, default=1000,
                      help="idle h2c connections for the memory measurement (1000)")
    load.add_argument("--spread-calls", type=positive_int, default=300,
                      help="calls over ONE connection for the per-pod spread (300)")

    churn = modes.add_parser("robustness", parents=[common], help="failed calls while pods roll, crash and restart")
    churn.add_argument("--rate", type=positive_int, default=300,
                       help="SayHello calls/s per proxy, all channels together (300)")
    churn.add_argument("--connections", type=positive_int, default=4,
                       help="gRPC channels (connections) per proxy (4)")
    churn.add_argument("--streams", type=positive_int, default=8,
                       help="calls in flight per channel at most (8)")
    churn.add_argument("--work-ms", type=non_negative_int, default=0,
                       help="0: SayHello, answered at once; N: Echo/Unary the pod answers after N ms, "
                            "so calls are in flight when pods stop (0)")
    churn.add_argument("--step-seconds", type=positive_float, default=3.0,
                       help="time between churn events (3)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    try:
        return (perf.run if args.mode == "load" else robustness.run)(args)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
