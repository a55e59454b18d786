"""Processes the benchmarks start, stopped by PID at exit, and /proc readers.

Everything here is bounded in time: every wait takes a deadline and fails with a
BenchError naming what it waited for.
"""

import os
import select
import signal
import socket
import subprocess
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A setup or measurement step failed; the message says what, and where the logs are."""


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate until it returns a true value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- /proc ------------------------------------------------------------------------------

def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1]); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    return data[data.rindex(b")") + 2:].split()


def descendants(pid):
    """PIDs of every live descendant of pid (children, grandchildren, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_tree(pid):
    return [pid] + descendants(pid)


def cpu_seconds(pids):
    """utime + stime of the live processes in pids, in seconds (clock-tick resolution)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_bytes(pids):
    """Sum of VmRSS of the live processes in pids (shared pages count once per process)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def alive(pid):
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != b"Z"


# --- ports ------------------------------------------------------------------------------

def port_free(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def free_port(ip="127.0.0.1"):
    """A port nothing listens on at ip now (the kernel's pick; a small race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def free_port_on_all(ips, attempts=50):
    """One port that is free on every ip (an EndpointSlice has one port for all its pods)."""
    for _ in range(attempts):
        port = free_port(ips[0])
        if all(port_free(ip, port) for ip in ips):
            return port
    raise BenchError(f"no port free on all of {', '.join(ips)} after {attempts} tries")


# --- the processes we start -------------------------------------------------------------

class Supervisor:
    """Starts processes with logs in log_dir and stops every one of them, by PID.

    stop_all() also stops the descendants a process left behind (nginx workers, an old
    haproxy worker), found by PID through /proc, so nothing outlives the benchmark.
    """

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self._procs = []  # (name, Popen)

    def start(self, name, argv, capture_stdout=False, env=None):
        """Starts argv; stderr (and stdout unless captured) go to LOG_DIR/name.log."""
        log = open(os.path.join(self.log_dir, f"{name}.log"), "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE if capture_stdout else log,
                                    stderr=log, env=env)
        except OSError as e:
            raise BenchError(f"cannot start {name} ({argv[0]}): {e}") from e
        finally:
            log.close()
        self._procs.append((name, proc))
        return proc

    def log_path(self, name):
        return os.path.join(self.log_dir, f"{name}.log")

    def log_tail(self, name, lines=20):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_for_line(self, name, proc, prefix, timeout):
        """Reads proc's stdout until a line starting with prefix; returns the rest of it."""
        deadline = time.monotonic() + timeout
        buffer = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.split(b"\n")[:-1]:
                    if line.startswith(prefix.encode()):
                        return line[len(prefix):].decode().strip()
            elif proc.poll() is not None:
                break
        raise BenchError(f"{name} did not print '{prefix}' within {timeout:g} s "
                         f"(exit status {proc.poll()}); its log:\n{self.log_tail(name)}")

    def stop(self, proc, sig=signal.SIGTERM, timeout=10.0):
        """Signals proc (and the descendants it has now); SIGKILL what is left after timeout."""
        if proc.poll() is not None:
            return
        pids = [proc.pid] + descendants(proc.pid)
        for pid in pids:
            _signal(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            proc.poll()  # reaps our direct child so it stops being a zombie
            time.sleep(0.05)
        for pid in pids:
            if alive(pid):
                _signal(pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def kill(self, proc):
        """SIGKILL, no grace: a crashed pod."""
        self.stop(proc, sig=signal.SIGKILL, timeout=5.0)

    def stop_all(self):
        for _, proc in reversed(self._procs):
            self.stop(proc, timeout=5.0)
        self._procs.clear()


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def run_bounded(argv, timeout, what):
    """Runs argv to completion (at most timeout s); returns (exit status, stdout, stderr)."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, text=True)
    except FileNotFoundError as e:
        raise BenchError(f"{what}: {argv[0]} not found") from e
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{what}: still running after {timeout:g} s (killed)") from e
    return done.returncode, done.stdout, done.stderr
