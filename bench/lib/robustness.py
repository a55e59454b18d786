"""The robustness benchmark: steady gRPC load through grpc-ingress, nginx and haproxy at
once, over the same pods, while the pods roll, crash and restart; counts the calls each
proxy failed, in total and per phase.

The pod list reaches each proxy the way it would without anything in between:
grpc-ingress reads the EndpointSlice from its --manifests directory (as Kubernetes would
change it: new pod ready first, old pod terminating, then gone); nginx and haproxy get
a rewritten config and a reload (nginx: SIGHUP; haproxy master-worker: SIGUSR2), and
they see only the ready pods. All three are told at the same moment (one thread each).

The client is grpc-load (bench/grpc_load.cc), a real gRPC C++ client, not h2load: on
a proxy's GOAWAY (every nginx or haproxy reload sends one) h2load neither reconnects nor
retries the streams the server refused, which a gRPC client does transparently. A call
failed when its grpc-status was not OK, as the application would see it.
"""

import json
import os
import threading
import time

from . import report
from .procs import BenchError, alive, free_port_on_all, run_bounded
from .setup import Session, load_average, check_tools, find_binaries, machine_description
from .targets import GrpcIngress, Haproxy, Nginx, Pods

TAIL_SECONDS = 3.0
GRACEFUL_STOP_SECONDS = 5.0
NO_RETRIES = "grpc-ingress-no-retries"
LOAD_SLACK_SECONDS = 30.0
GRPC_CODES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 4: "DEADLINE_EXCEEDED", 13: "INTERNAL", 14: "UNAVAILABLE"}


def run_grpc_load(binary, target, args, duration):
    """Runs grpc-load against target (bounded in time) and returns its JSON summary."""
    command = [binary, "--target", f"{target.host}:{target.port}", "--duration-ms", str(round(duration * 1000)),
               "--rate", str(args.rate), "--channels", str(args.connections),
               "--concurrency", str(args.streams), "--deadline-ms", "2000", "--work-ms", str(args.work_ms)]
    status, out, err = run_bounded(command, duration + LOAD_SLACK_SECONDS, f"grpc-load {target.name}")
    if status != 0:
        raise BenchError(f"grpc-load {target.name} exited with {status}: {err[-1500:]}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise BenchError(f"grpc-load {target.name} printed no JSON: {out[-500:]}") from e


class Churn:
    """The pods and the EndpointSlice, and the events that change them, told to every proxy."""

    def __init__(self, control, proxies, step, spare_ips):
        self.control, self.proxies, self.step = control, proxies, step
        self.spare_ips = list(spare_ips)
        self.endpoints = {}  # Pod -> "ready" | "terminating", in insertion order
        self.phases = []     # (name, start epoch, end epoch)
        self.apply_seconds = {p.name: [] for p in proxies}

    def endpoint_list(self):
        return list(self.endpoints.items())

    def apply(self):
        """Tells every proxy the new EndpointSlice at once; waits until each applied it."""
        errors = []
        endpoints = self.endpoint_list()

        def tell(proxy):
            try:
                self.apply_seconds[proxy.name].append(proxy.set_endpoints(endpoints))
            except (BenchError, OSError) as e:
                errors.append(f"{proxy.name}: {e}")

        threads = [threading.Thread(target=tell, args=(p,)) for p in self.proxies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise BenchError("applying the new pod list failed: " + "; ".join(errors))

    def phase(self, name):
        now = time.time()
        if self.phases:
            self.phases[-1] = (self.phases[-1][0], self.phases[-1][1], now)
        self.phases.append((name, now, None))
        print(f"{time.strftime('%H:%M:%S')} {name}", flush=True)

    def finish(self):
        now = time.time()
        self.phases[-1] = (self.phases[-1][0], self.phases[-1][1], now)

    def rolling_replace(self, old, new_name):
        """A Deployment rollout step: new pod ready, old pod terminating, stopped, gone."""
        new = self.control.start(new_name, self.spare_ips.pop(0))
        self.endpoints[new] = "ready"
        self.apply()
        time.sleep(self.step / 2)
        self.endpoints[old] = "terminating"
        self.apply()
        time.sleep(self.step / 2)  # endpoint propagation before the kubelet's SIGTERM
        self.control.supervisor.stop(old.proc, timeout=GRACEFUL_STOP_SECONDS)
        del self.endpoints[old]
        self.apply()
        return new

    def crash_and_replace(self, victim, new_name):
        """A pod dies unannounced; Kubernetes notices a step later and replaces it."""
        self.control.supervisor.kill(victim.proc)
        time.sleep(self.step)
        del self.endpoints[victim]
        new = self.control.start(new_name, self.spare_ips.pop(0))
        self.endpoints[new] = "ready"
        self.apply()
        return new

    def restart_in_place(self, victim):
        """The container crashes and the kubelet restarts it at once: same IP, same endpoint."""
        self.control.supervisor.kill(victim.proc)
        restarted = self.control.start(victim.name, victim.ip)
        # Same address: the EndpointSlice does not change; keep the dict's order and key.
        state = self.endpoints.pop(victim)
        self.endpoints[restarted] = state
        return restarted


def planned_seconds(pods, step):
    # steady, pods x rolling (about 1.5 steps each), crash (1 step + start), restart, steady.
    return step + pods * 1.5 * step + step + step + step


def run(args):
    check_tools({"nginx": "nginx", "haproxy": "haproxy"})
    binaries = find_binaries(args.build_dir, ("grpc-ingress", "test-pod", "grpc-load"))
    info = machine_description()
    with Session("robustness") as session:
        supervisor = session.supervisor
        ips = [f"127.0.0.{101 + i}" for i in range(args.pods)]
        spare_ips = [f"127.0.0.{121 + i}" for i in range(args.pods + 2)]
        control = Pods(supervisor, binaries["test-pod"], free_port_on_all(ips + spare_ips))
        pods = [control.start(f"greeter-{i}", ip) for i, ip in enumerate(ips)]
        # Two grpc-ingress processes: its defaults (which retry a call a pod reset or dropped
        # before answering, on another pod) and without retries, like the peers' defaults.
        proxies = [GrpcIngress(supervisor, binaries["grpc-ingress"], session.log_dir, args.proxy_threads),
                   GrpcIngress(supervisor, binaries["grpc-ingress"], session.log_dir, args.proxy_threads,
                               name=NO_RETRIES, annotations={"grpc-ingress.io/retries": "0"}),
                   Nginx(supervisor, session.log_dir, args.proxy_threads),
                   Haproxy(supervisor, session.log_dir, args.proxy_threads)]
        churn = Churn(control, proxies, args.step_seconds, spare_ips)
        for pod in pods:
            churn.endpoints[pod] = "ready"
        for proxy in proxies:
            proxy.start(churn.endpoint_list())

        duration = planned_seconds(args.pods, args.step_seconds) + TAIL_SECONDS
        results, load_errors = {}, []

        def drive(proxy):
            try:
                results[proxy.name] = run_grpc_load(binaries["grpc-load"], proxy, args, duration)
            except BenchError as e:
                load_errors.append(str(e))

        loaders = [threading.Thread(target=drive, args=(p,)) for p in proxies]
        for t in loaders:
            t.start()
        try:
            churn.phase("steady")
            time.sleep(args.step_seconds)
            for i, old in enumerate(list(pods)):
                churn.phase(f"rolling update: greeter-{i} -> greeter-{i}-v2")
                pods[i] = churn.rolling_replace(old, f"greeter-{i}-v2")
            churn.phase(f"crash: {pods[0].name} killed (SIGKILL), replaced a step later")
            pods[0] = churn.crash_and_replace(pods[0], f"{pods[0].name}-replacement")
            victim = pods[-1]
            churn.phase(f"restart in place: {victim.name} killed and restarted on {victim.ip}")
            pods[-1] = churn.restart_in_place(victim)
            time.sleep(args.step_seconds)
            churn.phase("steady")
        finally:
            for t in loaders:
                t.join()
        churn.finish()
        if load_errors:
            raise BenchError("; ".join(load_errors))
        ingress_alive = {p.name: alive(p.proc.pid) for p in proxies[:2]}
        info["load_end"] = load_average()
        text = render(info, args, duration, churn, results, ingress_alive, session.log_dir)
    report.publish(text, "robustness.md" if not args.work_ms else f"robustness-work-{args.work_ms}ms.md")
    return 0


def _phase_of(phases, when):
    for index, (_, start, end) in enumerate(phases):
        if start <= when < (end or float("inf")):
            return index
    return None


def _code_name(code):
    return GRPC_CODES.get(int(code), f"code {code}")


def render(info, args, duration, churn, results, ingress_alive, log_dir):
    names = [p.name for p in churn.proxies]
    lines = report.header_lines("grpc-ingress robustness benchmark", info, [
        ("load average at end", info["load_end"]),
        ("load", f"per proxy: grpc-load, {args.connections} channels x {args.streams} calls in flight, "
                 f"{args.rate} calls/s in total, 2 s deadline, {duration:g} s; "
                 "every proxy driven at the same time over the same pods"),
        ("calls", "helloworld.Greeter/SayHello, answered at once" if not args.work_ms else
                  f"grpc_ingress.test.Echo/Unary, answered after {args.work_ms} ms"),
        ("pods", f"{args.pods} test-pod servers; events every {args.step_seconds:g} s"),
    ])
    lines += ["", "## Failed calls", ""]
    rows = []
    for name in names:
        r = results[name]
        failed = r["calls"] - r["codes"].get("0", 0)
        by_code = ", ".join(f"{_code_name(c)} {n}" for c, n in sorted(r["codes"].items(), key=lambda i: int(i[0]))
                            if c != "0") or "—"
        rows.append([name, f"{r['calls']:,}", f"**{failed}**",
                     f"{100.0 * failed / r['calls']:.2f} %" if r["calls"] else "—", by_code,
                     report.number(1000 * report.median(churn.apply_seconds[name]), 0)])
    lines.append(report.table(["proxy", "calls", "failed", "failed %", "failures by grpc-status",
                               "new pod list applied in (median ms)"], rows))
    resent = {p.name: p.resent_reloads for p in churn.proxies if getattr(p, "resent_reloads", 0)}
    if resent:
        lines += ["", "Reload signals sent twice (the first was lost): "
                  + ", ".join(f"{name} {count}" for name, count in resent.items()) + "."]
    lines += ["", "Still running at the end: " + ", ".join(f"{name} {'yes' if up else '**no**'}"
                                                   for name, up in ingress_alive.items()) + ".", "",
              "## Failed calls per phase", "", "By the time the client saw the failure.", ""]
    per_phase = {name: [0] * len(churn.phases) for name in names}
    for name in names:
        for failure in results[name]["failures"]:
            index = _phase_of(churn.phases, failure["time"])
            if index is not None:
                per_phase[name][index] += 1
    rows = [[phase[0], *(per_phase[name][i] for name in names)] for i, phase in enumerate(churn.phases)]
    lines.append(report.table(["phase", *names], rows))
    lines += ["", "## Failure messages", ""]
    for name in names:
        messages = {}
        for failure in results[name]["failures"]:
            key = f"{_code_name(failure['code'])}: {failure['message'][:120]}"
            messages[key] = messages.get(key, 0) + 1
        lines.append(f"- {name}: " + ("; ".join(f"{n}× {m}" for m, n in sorted(messages.items(),
                                                                              key=lambda i: -i[1])[:6])
                                      or "none"))
    lines += ["", "## How the peers were configured", "",
              "- nginx: `upstream` of the ready pods (round robin, `keepalive 256`, `keepalive_requests` "
              "raised), `grpc_pass`, `listen ... http2`; defaults otherwise (`grpc_next_upstream error "
              "timeout`, `max_fails=1 fail_timeout=10s`). A new pod list = new config file + SIGHUP "
              "(`nginx -s reload`).",
              "- haproxy: `bind ... proto h2`, servers `proto h2 check inter 1s`, `balance roundrobin`, "
              "`retries 3`, `option redispatch 1`. Master-worker; a new pod list = new config file + SIGUSR2 "
              "(a reload). The runtime API (`set server ... addr`, server-template slots) would avoid the "
              "reload; not measured here.",
              "- grpc-ingress: the EndpointSlice in its --manifests directory (polled every 100 ms), "
              "with terminating pods marked `ready: false, terminating: true` before they stop; defaults "
              "otherwise: a call that a pod reset or dropped before answering is retried on another pod "
              "(`retries: 2`, `retry-on: unavailable`, 20% budget), so a call a crashed pod had started "
              "may run twice. " + f"`{NO_RETRIES}` is a second process with `grpc-ingress.io/retries: \"0\"`, "
              "which keeps only the transparent retries of calls no pod saw, as nginx and haproxy do.",
              "- All proxies are told at the same moment; \"applied\" is until grpc-ingress's /debug/endpoints "
              "shows the change, or until the peer's new worker process exists.",
              "", f"Logs of this run: {log_dir}", ""]
    return "\n".join(lines)
