"""What the benchmarks start: test-pod gRPC servers and the proxies in front of them.

Each proxy (grpc-ingress, nghttpx, nginx, haproxy) listens on 127.0.0.1 on a free port and
balances helloworld.Greeter calls over the same pods; `direct` is one pod, no proxy.
Proxies get a new pod list with set_endpoints(): grpc-ingress through its --manifests
directory (an EndpointSlice, as Kubernetes would write it), the others through a
rewritten config file and a reload (there is no controller in front of them).
"""

import json
import os
import resource
import signal
import time
import urllib.request

from . import h2c
from .procs import BenchError, alive, descendants, free_port, process_tree, wait_until

START_TIMEOUT = 15.0
RELOAD_TIMEOUT = 10.0
SERVICE = "greeter"
NAMESPACE = "default"


class Pod:
    def __init__(self, name, ip, port, proc):
        self.name, self.ip, self.port, self.proc = name, ip, port, proc

    @property
    def address(self):
        return f"{self.ip}:{self.port}"


class Pods:
    """test-pod processes, one loopback IP each, all on one port (one EndpointSlice port)."""

    def __init__(self, supervisor, binary, port):
        self.supervisor, self.binary, self.port = supervisor, binary, port

    def start(self, name, ip):
        proc = self.supervisor.start(name, [self.binary, "--listen", f"{ip}:{self.port}", "--pod", name,
                                            "--exit-with-parent"], capture_stdout=True)
        listening = self.supervisor.wait_for_line(name, proc, "LISTENING ", START_TIMEOUT)
        if listening != f"{ip}:{self.port}":
            raise BenchError(f"pod {name} listens on {listening}, expected {ip}:{self.port}")
        return Pod(name, ip, self.port, proc)

    @staticmethod
    def call_counts(pods):
        """{pod name: calls it has started}, asked from each live pod directly."""
        counts = {}
        for pod in pods:
            if pod.proc.poll() is None:
                name, calls = h2c.pod_call_count(pod.ip, pod.port)
                counts[name] = calls
        return counts


def say_hello_works(host, port):
    try:
        connection = h2c.H2cConnection(host, port, timeout=2.0)
        try:
            return bool(connection.unary_call(h2c.SAY_HELLO_PATH, h2c.proto_string_field(1, "probe")))
        finally:
            connection.close()
    except (OSError, h2c.H2cError):
        return False


class Target:
    """Something h2load can drive: host:port, and the processes whose CPU and RSS count."""

    name = ""
    host = "127.0.0.1"
    port = 0

    def pids(self):
        return []

    @property
    def url(self):
        return f"http://{self.host}:{self.port}{h2c.SAY_HELLO_PATH}"

    def wait_serving(self, supervisor):
        wait_until(lambda: say_hello_works(self.host, self.port), START_TIMEOUT,
                   f"{self.name} to answer SayHello on {self.host}:{self.port} "
                   f"(log: {supervisor.log_path(self.name)})", interval=0.2)


class Direct(Target):
    """Straight to one pod: the floor for latency, no proxy CPU or memory."""

    name = "direct"

    def __init__(self, pod):
        self.host, self.port = pod.ip, pod.port


class GrpcIngress(Target):
    def __init__(self, supervisor, binary, work_dir, threads, name="grpc-ingress", annotations=None,
                 poll_interval="100ms"):
        """annotations: on the Ingress, e.g. {"grpc-ingress.io/retries": "0"}."""
        self.supervisor, self.binary, self.threads = supervisor, binary, threads
        self.name, self.annotations = name, dict(annotations or {})
        self.manifest_dir = os.path.join(work_dir, f"{name}-manifests")
        os.makedirs(self.manifest_dir, exist_ok=True)
        self.poll_interval = poll_interval
        self.proc = None
        self.admin_port = 0

    def start(self, endpoints):
        self._write_manifests(endpoints)
        self.port, self.admin_port = free_port(), free_port()
        self.proc = self.supervisor.start(self.name, [
            self.binary, "--manifests", self.manifest_dir, "--bind-address", "127.0.0.1",
            "--http-port", str(self.port), "--admin-port", str(self.admin_port),
            "--https-port", str(free_port()), "--threads", str(self.threads),
            "--access-log=false", "--manifests-poll-interval", self.poll_interval,
            "--shutdown-drain", "100ms", "--shutdown-grace", "2s"])
        wait_until(lambda: self._admin_status("/readyz") == 200 or self.proc.poll() is not None,
                   START_TIMEOUT, f"grpc-ingress /readyz on 127.0.0.1:{self.admin_port}")
        if self.proc.poll() is not None:
            raise BenchError(f"grpc-ingress exited with status {self.proc.returncode}; its log:\n"
                             f"{self.supervisor.log_tail(self.name)}")
        self.wait_serving(self.supervisor)

    def pids(self):
        return [self.proc.pid] if self.proc and alive(self.proc.pid) else []

    def set_endpoints(self, endpoints):
        """Rewrites the EndpointSlice (atomic rename); returns seconds until the table had it."""
        started = time.monotonic()
        self._write_manifests(endpoints)
        # Terminating (still serving) pods are used only when no pod is ready, and only
        # then listed in the running table.
        ready = [(pod.address, state) for pod, state in endpoints if state == "ready"]
        wanted = sorted(ready or [(pod.address, state) for pod, state in endpoints])
        wait_until(lambda: self._served_endpoints() == wanted, RELOAD_TIMEOUT,
                   "grpc-ingress /debug/endpoints to show the new EndpointSlice", interval=0.02)
        return time.monotonic() - started

    def metrics(self):
        """The /metrics text (empty if it cannot be read)."""
        return self._admin_get("/metrics") or ""

    def _served_endpoints(self):
        text = self._admin_get("/debug/endpoints")
        if not text:
            return None
        try:
            table = json.loads(text)
        except ValueError:
            return None
        return sorted((e["address"], e["state"]) for c in table["clusters"] for e in c["endpoints"])

    def _admin_get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=2) as r:
                return r.read().decode()
        except OSError:
            return None

    def _admin_status(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=1) as r:
                return r.status
        except OSError:
            return None

    def _write_manifests(self, endpoints):
        """endpoints: [(Pod, "ready" | "terminating")]: the objects Kubernetes would hold."""
        lines = [
            "# Written by bench/: the pods the benchmark started, as Kubernetes would describe them.",
            "apiVersion: networking.k8s.io/v1", "kind: IngressClass",
            "metadata: {name: grpc}", "spec: {controller: grpc-ingress.io/controller}", "---",
            "apiVersion: v1", "kind: Service",
            f"metadata: {{name: {SERVICE}, namespace: {NAMESPACE}}}",
            "spec:", "  clusterIP: None", "  ports:",
            f"    - {{name: grpc, port: {endpoints[0][0].port if endpoints else 50051}, targetPort: grpc, "
            "appProtocol: kubernetes.io/h2c}", "---",
            "apiVersion: discovery.k8s.io/v1", "kind: EndpointSlice",
            f"metadata: {{name: {SERVICE}-bench, namespace: {NAMESPACE}, "
            f"labels: {{kubernetes.io/service-name: {SERVICE}}}}}",
            "addressType: IPv4",
            "ports:", f"  - {{name: grpc, port: {endpoints[0][0].port if endpoints else 50051}, "
            "protocol: TCP, appProtocol: kubernetes.io/h2c}",
            "endpoints:" if endpoints else "endpoints: []",
        ]
        for pod, state in endpoints:
            ready = "true" if state == "ready" else "false"
            terminating = "false" if state == "ready" else "true"
            lines.append(f"  - addresses: [\"{pod.ip}\"]")
            lines.append(f"    conditions: {{ready: {ready}, serving: true, terminating: {terminating}}}")
            lines.append(f"    targetRef: {{kind: Pod, namespace: {NAMESPACE}, name: {pod.name}}}")
        lines += [
            "---", "apiVersion: networking.k8s.io/v1", "kind: Ingress",
            f"metadata: {{name: bench, namespace: {NAMESPACE}, annotations: {json.dumps(self.annotations)}}}",
            "spec:", "  ingressClassName: grpc", "  rules:", "    - http:", "        paths:",
            "          - path: /helloworld.Greeter", "            pathType: Prefix",
            f"            backend: {{service: {{name: {SERVICE}, port: {{name: grpc}}}}}}",
            "          - path: /grpc_ingress.test.Echo", "            pathType: Prefix",
            f"            backend: {{service: {{name: {SERVICE}, port: {{name: grpc}}}}}}",
        ]
        _write_atomically(os.path.join(self.manifest_dir, "bench.yaml"), "\n".join(lines) + "\n")


class ReloadedProxy(Target):
    """A peer proxy run from a config file; a new pod list means a new file and a reload."""

    binary = ""

    def __init__(self, supervisor, work_dir, threads):
        self.supervisor, self.threads = supervisor, threads
        self.dir = os.path.join(work_dir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, f"{self.name}.conf")
        self.proc = None
        self.resent_reloads = 0

    def pids(self):
        return process_tree(self.proc.pid) if self.proc and alive(self.proc.pid) else []

    def start(self, endpoints):
        self.port = free_port()
        self._write_config(endpoints)
        self.proc = self.supervisor.start(self.name, self._command())
        try:
            self.wait_serving(self.supervisor)
        except BenchError:
            raise BenchError(f"{self.name} did not serve (exit status {self.proc.poll()}); its log:\n"
                             f"{self.supervisor.log_tail(self.name)}") from None

    def set_endpoints(self, endpoints):
        """New config + reload signal to the master; returns seconds until the reload is done.

        A signal the master gets while still busy with the previous reload can be lost
        (haproxy); one more is sent if nothing happened in half the timeout, and counted."""
        started = time.monotonic()
        before = self._reload_state()
        self._write_config(endpoints)
        os.kill(self.proc.pid, self.reload_signal)
        try:
            wait_until(lambda: self._reloaded(before), RELOAD_TIMEOUT / 2,
                       f"{self.name} to reload", interval=0.02)
        except BenchError:
            self.resent_reloads += 1
            os.kill(self.proc.pid, self.reload_signal)
            wait_until(lambda: self._reloaded(before), RELOAD_TIMEOUT / 2,
                       f"{self.name} to reload (signal sent twice)", interval=0.02)
        return time.monotonic() - started

    def _reload_state(self):
        """Worker PIDs now; _reloaded() is true once a worker not among them runs."""
        return set(descendants(self.proc.pid))

    def _reloaded(self, before):
        return set(descendants(self.proc.pid)) - before

    def _write_config(self, endpoints):
        ready = [pod for pod, state in endpoints if state == "ready"]
        _write_atomically(self.config_path, self._config(ready))


class Nginx(ReloadedProxy):
    """nginx: grpc_pass to an upstream of the pods (round robin, keepalive), h2c listener,
    keepalive_requests raised on both sides as ingress-nginx does for gRPC.

    Reload = SIGHUP to the master (what `nginx -s reload` sends): new workers start with
    the new upstream list, old workers finish their requests and close their connections.
    """

    name = "nginx"
    binary = "nginx"
    reload_signal = signal.SIGHUP

    def _command(self):
        return ["nginx", "-p", self.dir + "/", "-c", self.config_path, "-e", os.path.join(self.dir, "error.log")]

    def _config(self, pods):
        servers = "\n".join(f"        server {pod.address};" for pod in pods) or "        server 127.0.0.1:1 down;"
        user = "user root root;" if os.geteuid() == 0 else ""
        temp = os.path.join(self.dir, "tmp")
        os.makedirs(temp, exist_ok=True)
        return f"""# Written by bench/ for this run.
{user}
daemon off;
master_process on;
worker_processes {self.threads};
worker_rlimit_nofile 20000;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 10000; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream pods {{
{servers}
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{self.port} http2;
        # The default (1000) ends each client connection with GOAWAY after 1000 calls.
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        location / {{
            grpc_pass grpc://pods;
        }}
    }}
}}
"""


class Nghttpx(ReloadedProxy):
    """nghttpx (Debian nghttp2-proxy): the same libnghttp2 as grpc-ingress, h2c frontend, h2
    backends (requests spread round robin over the pods' shared connections).

    Reload = SIGHUP to the master: it reads the config again and starts new workers; the
    old ones finish their streams.
    """

    name = "nghttpx"
    binary = "nghttpx"
    reload_signal = signal.SIGHUP

    def _command(self):
        return ["nghttpx", "--conf", self.config_path]

    def _config(self, pods):
        backends = "\n".join(f"backend={pod.ip},{pod.port};;proto=h2" for pod in pods) or "backend=127.0.0.1,1;;proto=h2"
        return f"""# Written by bench/ for this run.
frontend=127.0.0.1,{self.port};no-tls
{backends}
workers={self.threads}
errorlog-file={self.dir}/error.log
pid-file={self.dir}/nghttpx.pid
no-ocsp=yes
no-via=yes
"""


class Haproxy(ReloadedProxy):
    """haproxy: h2 frontend, h2 servers, roundrobin, TCP health checks, retries + redispatch.

    Master-worker mode; reload = SIGUSR2 to the master (what `systemctl reload` does): a new
    worker with the new server list, the old one stops accepting and finishes its streams.
    """

    name = "haproxy"
    binary = "haproxy"
    reload_signal = signal.SIGUSR2

    def _command(self):
        return ["haproxy", "-W", "-db", "-f", self.config_path]

    # The master logs "Loading success." when a reload is through; a new worker shows
    # earlier, while the master may still drop another SIGUSR2.
    def _reload_state(self):
        return self._reloads_logged()

    def _reloaded(self, before):
        return self._reloads_logged() > before

    def _reloads_logged(self):
        try:
            with open(self.supervisor.log_path(self.name), errors="replace") as f:
                return sum(1 for line in f if "Loading success." in line)
        except OSError:
            return 0

    def _config(self, pods):
        servers = "\n".join(f"    server {pod.name} {pod.address} proto h2 check inter 1s"
                            for pod in pods)
        return f"""# Written by bench/ for this run.
global
    nbthread {self.threads}
    maxconn {_haproxy_maxconn()}
    hard-stop-after 30s
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
frontend grpc
    bind 127.0.0.1:{self.port} proto h2
    default_backend pods
backend pods
    balance roundrobin
{servers}
"""


def _haproxy_maxconn():
    """haproxy needs about 2 descriptors per connection and refuses to start without them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return max(256, min(20000, (limit - 100) // 2))


def _write_atomically(path, text):
    temp = path + ".tmp"
    with open(temp, "w") as f:
        f.write(text)
    os.replace(temp, path)
