"""What every benchmark needs first: the tools, the built binaries, a log directory, a
Supervisor that stops everything on any exit, and a description of the machine."""

import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from .procs import BenchError, Supervisor

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = {"h2load": "nghttp2-client", "nginx": "nginx", "haproxy": "haproxy", "nghttpx": "nghttp2-proxy"}


def check_tools(tools=TOOLS):
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        packages = " ".join(sorted({tools[tool] for tool in missing}))
        raise BenchError(f"not on PATH: {', '.join(missing)}. `make bench` installs them "
                         f"(or: apt-get install {packages})")


def find_binaries(build_dir, names=("grpc-ingress", "test-pod")):
    binaries = {name: os.path.join(build_dir, name) for name in names}
    for name, path in binaries.items():
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} is missing: run `make build` (or pass --build-dir)")
    return binaries


class Session:
    """A run: its log directory and its Supervisor, stopped by PID on exit, SIGINT or SIGTERM."""

    def __init__(self, name):
        self.log_dir = tempfile.mkdtemp(prefix=f"grpc-ingress-{name}.")
        self.supervisor = Supervisor(self.log_dir)

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)
        return self

    def __exit__(self, *exc):
        # Signals during cleanup would leave processes behind: hold them off.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        self.supervisor.stop_all()
        print(f"logs: {self.log_dir}", file=sys.stderr)
        return False


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _first_line(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def load_average():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def machine_description():
    """Lines for a report header: when, where, which versions."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = _first_line(["git", "-C", REPO_DIR, "log", "-1", "--format=%h %s"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({model}), {memory_gib:.0f} GiB, shared with other users",
        "load": load_average(),
        "grpc-ingress": commit[:100],
        "nginx": _first_line(["nginx", "-v"]),
        "haproxy": _first_line(["haproxy", "-v"]),
        "nghttpx": _first_line(["nghttpx", "--version"]),
        "h2load": _first_line(["h2load", "--version"]),
    }
