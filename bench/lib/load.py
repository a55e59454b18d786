"""Load: h2load runs of a real gRPC unary call, their parsed results, and idle connections."""

import os
import re

from . import h2c
from .procs import BenchError, run_bounded

H2LOAD_SLACK = 30.0  # seconds an h2load run may take beyond its planned duration


class H2loadResult:
    """What one h2load run reported; latencies come from its --log-file (h2load's own
    summary has min/max/mean/sd only)."""

    def __init__(self):
        self.total = self.started = self.done = self.succeeded = 0
        self.failed = self.errored = self.timeout = 0
        self.status = {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
        self.rps = 0.0
        self.seconds = 0.0
        self.latencies_us = []  # sorted, successful requests of the measured period
        self.log_rows = []      # (start µs since epoch, HTTP status, duration µs), all requests

    def percentile_ms(self, p):
        if not self.latencies_us:
            return float("nan")
        index = min(len(self.latencies_us) - 1, int(round(p / 100.0 * (len(self.latencies_us) - 1))))
        return self.latencies_us[index] / 1000.0

    @property
    def not_ok(self):
        """Requests that failed: a non-2xx status, a reset, a connection error or a timeout
        (h2load's "failed"; "errored" and "timeout" are subsets of it)."""
        return self.failed


_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout")
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s")


def parse_h2load(text):
    result = H2loadResult()
    match = _REQUESTS.search(text)
    if not match:
        raise BenchError("h2load printed no 'requests:' line:\n" + text[-2000:])
    (result.total, result.started, result.done, result.succeeded,
     result.failed, result.errored, result.timeout) = map(int, match.groups())
    match = _STATUS.search(text)
    if match:
        result.status = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, match.groups())))
    match = _FINISHED.search(text)
    if match:
        value, unit, rps = match.groups()
        result.seconds = float(value) / {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
        result.rps = float(rps)
    return result


def read_log_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return rows


def h2load_command(url, body_path, clients, streams, duration=None, warm_up=None,
                   requests=None, log_path=None, threads=1):
    command = ["h2load", "-d", body_path, "-H", "content-type: application/grpc", "-H", "te: trailers",
               "-c", str(clients), "-m", str(streams), "-t", str(threads)]
    if duration is not None:
        command += ["-D", f"{round(duration * 1000)}ms"]
        if warm_up:
            command += ["--warm-up-time", f"{round(warm_up * 1000)}ms"]
    else:
        command += ["-n", str(requests)]
    if log_path:
        command += [f"--log-file={log_path}"]
    return command + [url]


def run_h2load(url, body_path, clients, streams, log_path, duration=None, warm_up=0.0,
               requests=None):
    """Runs h2load to completion (bounded) and returns its parsed result with latencies."""
    if os.path.exists(log_path):
        os.remove(log_path)
    command = h2load_command(url, body_path, clients, streams, duration=duration, warm_up=warm_up,
                             requests=requests, log_path=log_path)
    planned = (duration or 0) + (warm_up or 0)
    status, out, err = run_bounded(command, planned + H2LOAD_SLACK, f"h2load {url}")
    if status != 0 and "requests:" not in out:
        raise BenchError(f"h2load {url} exited with {status}:\n{out[-1500:]}{err[-1500:]}")
    result = parse_h2load(out)
    result.log_rows = read_log_rows(log_path) if os.path.exists(log_path) else []
    if result.log_rows:
        # Drop the warm-up: h2load logs every request, the summary only the measured period.
        first = min(row[0] for row in result.log_rows)
        measured_from = first + int((warm_up or 0) * 1e6)
        result.latencies_us = sorted(d for s, code, d in result.log_rows
                                     if s >= measured_from and 200 <= code < 300)
    return result


def write_request_body(path):
    with open(path, "wb") as f:
        f.write(h2c.hello_request_body("bench"))
    return path


class IdleConnections:
    """M client connections to host:port, each having made one SayHello call, then idle."""

    def __init__(self):
        self.connections = []
        self.failed = 0

    def open(self, host, port, count):
        for _ in range(count):
            try:
                connection = h2c.H2cConnection(host, port, timeout=5.0)
            except OSError:
                self.failed += 1
                continue
            try:
                if connection.unary_call(h2c.SAY_HELLO_PATH, h2c.proto_string_field(1, "idle")):
                    self.connections.append(connection)
                    continue
            except (OSError, h2c.H2cError):
                pass
            self.failed += 1
            connection.close()
        return len(self.connections)

    def close(self):
        for connection in self.connections:
            connection.close()
        self.connections.clear()
