"""The load benchmark: grpc-ingress, nghttpx, nginx, haproxy and direct-to-pod over the same pods,
driven in turns (several rounds, rotated order) with the same h2load gRPC load.

Measures per target: requests/s, latency percentiles, proxy CPU time per request, calls
per pod, and proxy RSS per idle client connection. Reports absolute numbers and
grpc-ingress's ratios to each peer measured in this run.
"""

import os
import time

from . import report
from .load import IdleConnections, run_h2load, write_request_body
from .procs import cpu_seconds, free_port_on_all, rss_bytes
from .setup import Session, load_average, check_tools, find_binaries, machine_description
from .targets import Direct, GrpcIngress, Haproxy, Nghttpx, Nginx, Pods

PERCENTILES = (50, 90, 99, 99.9)
IDLE_SETTLE_SECONDS = 1.0


class LoadRun:
    """One h2load run against one target, with what the proxy and the pods saw meanwhile."""

    def __init__(self, h2load, cpu_seconds, per_pod):
        self.h2load, self.cpu_seconds, self.per_pod = h2load, cpu_seconds, per_pod

    @property
    def served(self):
        return sum(self.per_pod.values())

    @property
    def cpu_us_per_call(self):
        return self.cpu_seconds * 1e6 / self.served if self.served else float("nan")


def measure_load(target, pods, body, args, log_path, duration=None, requests=None, clients=None, streams=None):
    before_pods = Pods.call_counts(pods)
    pids = target.pids()
    cpu_before = cpu_seconds(pids)
    result = run_h2load(target.url, body, clients or args.connections, streams or args.streams, log_path,
                        duration=duration, warm_up=args.warm_up if duration else 0.0, requests=requests)
    # No processes (direct to a pod): no proxy CPU to count.
    cpu_used = cpu_seconds(pids) - cpu_before if pids else float("nan")
    after_pods = Pods.call_counts(pods)
    per_pod = {name: after_pods[name] - before_pods.get(name, 0) for name in after_pods}
    return LoadRun(result, cpu_used, per_pod)


def measure_idle_memory(target, count):
    """RSS of the target's processes: before, with `count` idle connections, after closing
    them, and the same again with a second batch. A proxy that reuses what the first batch
    freed grows by about nothing the second time; one that keeps something per connection
    (or fragments its heap) grows again."""
    before = rss_bytes(target.pids())
    passes = []
    opened = failed = 0
    for _ in range(2):
        idle = IdleConnections()
        try:
            opened += idle.open(target.host, target.port, count)
            failed += idle.failed
            time.sleep(IDLE_SETTLE_SECONDS)
            with_idle = rss_bytes(target.pids())
        finally:
            idle.close()
        time.sleep(IDLE_SETTLE_SECONDS)
        passes.append((with_idle, rss_bytes(target.pids())))
    first_batch = opened // 2
    return {"before": before, "with_idle": passes[0][0], "after_close": passes[0][1],
            "with_idle_again": passes[1][0], "after_close_again": passes[1][1],
            "opened": opened, "failed": failed,
            "per_connection": (passes[0][0] - before) / first_batch if first_batch else float("nan"),
            "regrowth_per_connection": ((passes[1][0] - passes[0][0]) / first_batch
                                        if first_batch else float("nan"))}


def run(args):
    check_tools()
    binaries = find_binaries(args.build_dir)
    info = machine_description()
    with Session("bench") as session:
        supervisor = session.supervisor
        ips = [f"127.0.0.{101 + i}" for i in range(args.pods)]
        pod_control = Pods(supervisor, binaries["test-pod"], free_port_on_all(ips))
        print(f"starting {args.pods} pods on {', '.join(ips)} (port {pod_control.port})", flush=True)
        pods = [pod_control.start(f"greeter-{i}", ip) for i, ip in enumerate(ips)]
        endpoints = [(pod, "ready") for pod in pods]
        ingress = GrpcIngress(supervisor, binaries["grpc-ingress"], session.log_dir, args.proxy_threads)
        proxies = [ingress, Nghttpx(supervisor, session.log_dir, args.proxy_threads),
                   Nginx(supervisor, session.log_dir, args.proxy_threads),
                   Haproxy(supervisor, session.log_dir, args.proxy_threads)]
        for proxy in proxies:
            proxy.start(endpoints)
            print(f"{proxy.name} serving on 127.0.0.1:{proxy.port} (pids {proxy.pids()})", flush=True)
        targets = proxies + [Direct(pods[0])]
        body = write_request_body(os.path.join(session.log_dir, "say_hello.bin"))

        for target in targets:  # warm connections, pools and allocators before measuring
            measure_load(target, pods, body, args, os.path.join(session.log_dir, "warm.log"), requests=2000)

        runs = {target.name: [] for target in targets}
        for round_index in range(args.rounds):
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
                log_path = os.path.join(session.log_dir, f"h2load-{target.name}-{round_index}.log")
                run = measure_load(target, pods, body, args, log_path, duration=args.duration)
                runs[target.name].append(run)
                print(f"round {round_index + 1}/{args.rounds} {target.name:13} {run.h2load.rps:9.0f} req/s  "
                      f"p50 {run.h2load.percentile_ms(50):.2f} ms  p99 {run.h2load.percentile_ms(99):.2f} ms  "
                      f"cpu {run.cpu_us_per_call:.1f} µs/call  not ok {run.h2load.not_ok}", flush=True)

        one_connection = {}
        for target in proxies:
            log_path = os.path.join(session.log_dir, f"h2load-{target.name}-one-connection.log")
            one_connection[target.name] = measure_load(target, pods, body, args, log_path,
                                                       requests=args.spread_calls, clients=1, streams=1)

        memory = {}
        for target in proxies:
            memory[target.name] = measure_idle_memory(target, args.idle_connections)
            m = memory[target.name]
            print(f"{target.name:13} {m['opened']} idle connections: "
                  f"{m['per_connection']:.0f} bytes/connection", flush=True)

        info["load_end"] = load_average()
        info["request_bytes"] = os.path.getsize(body)
        text = render(info, args, targets, runs, one_connection, memory)
    # The default load is the headline report; other shapes (e.g. one call at
    # a time, for latency) get a file of their own beside it.
    default_shape = (args.connections, args.streams) == (8, 8)
    report.publish(text, "latest.md" if default_shape else f"load-c{args.connections}m{args.streams}.md")
    return 0


def _summary(target_runs):
    return {
        "rps": report.median([r.h2load.rps for r in target_runs]),
        "p": {p: report.median([r.h2load.percentile_ms(p) for r in target_runs]) for p in PERCENTILES},
        "cpu": report.median([r.cpu_us_per_call for r in target_runs]),
        "not_ok": sum(r.h2load.not_ok for r in target_runs),
        "requests": sum(r.h2load.total for r in target_runs),
    }


def _spread(per_pod):
    total = sum(per_pod.values())
    if not total:
        return "—"
    return " / ".join(f"{100.0 * per_pod[name] / total:.0f}" for name in sorted(per_pod)) + " %"


def _pooled(target_runs):
    pooled = {}
    for r in target_runs:
        for name, calls in r.per_pod.items():
            pooled[name] = pooled.get(name, 0) + calls
    return pooled


def render(info, args, targets, runs, one_connection, memory):
    names = [t.name for t in targets]
    summary = {name: _summary(runs[name]) for name in names}
    lines = report.header_lines("grpc-ingress load benchmark", info, [
        ("load average at end", info["load_end"]),
        ("load", f"{info['h2load']}, {args.connections} connections x {args.streams} streams, gRPC unary "
                 f"/helloworld.Greeter/SayHello ({info['request_bytes']}-byte request body), {args.duration:g} s per run after "
                 f"{args.warm_up:g} s warm-up, {args.rounds} rounds in rotated order; medians over rounds"),
        ("pods", f"{args.pods} test-pod gRPC C++ servers on 127.0.0.101..; direct = the first pod"),
        ("proxies", f"{args.proxy_threads} worker threads/processes each, access logs off"),
    ])
    lines += ["", "## Absolute", ""]
    rows = []
    for name in names:
        s = summary[name]
        mem = memory.get(name)
        rows.append([name, report.number(s["rps"]), *(report.number(s["p"][p], 2) for p in PERCENTILES),
                     report.number(s["cpu"], 1),
                     report.number(mem["per_connection"]) if mem else "—",
                     report.number(mem["before"] / 2**20, 1) if mem else "—",
                     _spread(_pooled(runs[name])),
                     _spread(one_connection[name].per_pod) if name in one_connection else "—",
                     f"{s['not_ok']} / {s['requests']:,}"])
    lines.append(report.table(
        ["target", "req/s", *(f"p{p:g} ms" for p in PERCENTILES), "CPU µs/call", "bytes/idle conn",
         "RSS MiB", "calls per pod", f"per pod, 1 conn ({args.spread_calls} calls)", "not 2xx / requests"],
        rows))
    lines += ["", "## grpc-ingress ÷ peer (same run)", "",
              "Above 1 is better for req/s, below 1 is better for latency, CPU and memory.", ""]
    ours = summary["grpc-ingress"]
    rows = []
    for name in names[1:]:
        theirs = summary[name]
        mem_ratio = (report.ratio(memory["grpc-ingress"]["per_connection"], memory[name]["per_connection"])
                     if name in memory else "—")
        rows.append([name, report.ratio(ours["rps"], theirs["rps"]),
                     *(report.ratio(ours["p"][p], theirs["p"][p]) for p in PERCENTILES),
                     report.ratio(ours["cpu"], theirs["cpu"]) if name != "direct" else "—", mem_ratio])
    lines.append(report.table(["vs", "req/s", *(f"p{p:g}" for p in PERCENTILES), "CPU/call", "bytes/idle conn"],
                              rows))
    lines += ["", "## Idle connections", "",
              f"Twice per proxy: {args.idle_connections} h2c connections, each made one SayHello call and "
              "then idled, then all closed. RSS summed over the proxy's processes. bytes/conn = growth with "
              "the first batch open; regrowth = growth with the second batch open over the first, per "
              "connection (about 0 when what the first batch freed is reused).", ""]
    mib = lambda value: report.number(value / 2**20, 1)  # noqa: E731
    rows = [[name, m["opened"], m["failed"], mib(m["before"]), mib(m["with_idle"]), mib(m["after_close"]),
             mib(m["with_idle_again"]), mib(m["after_close_again"]), report.number(m["per_connection"]),
             report.number(m["regrowth_per_connection"])] for name, m in memory.items()]
    lines.append(report.table(["proxy", "opened", "failed", "RSS before MiB", "1st batch open",
                               "1st closed", "2nd batch open", "2nd closed", "bytes/conn", "regrowth bytes/conn"],
                              rows))
    lines += ["", "## Every run", ""]
    rows = []
    for name in names:
        for i, r in enumerate(runs[name]):
            rows.append([name, i + 1, report.number(r.h2load.rps), report.number(r.h2load.percentile_ms(50), 2),
                         report.number(r.h2load.percentile_ms(99), 2), report.number(r.cpu_us_per_call, 1),
                         r.served, r.h2load.not_ok])
    lines.append(report.table(["target", "round", "req/s", "p50 ms", "p99 ms", "CPU µs/call",
                               "calls at pods", "not 2xx"], rows))
    lines += ["", "## Caveats", "",
              "- One 2-core machine shared with other users: h2load, the proxy and the pods compete for the "
              "same cores, so req/s is what the whole box manages, and absolute numbers move from run to run. "
              "Compare the ratios, measured in the same run and interleaved.",
              "- CPU µs/call = proxy utime+stime (/proc, 10 ms ticks) over the run, warm-up included, divided "
              "by the calls the pods counted in the same time (Echo/Stats).",
              "- h2load counts HTTP statuses, not grpc-status; every call here is also counted at the pods.",
              "- nginx proxies each gRPC call on its own upstream connection (no HTTP/2 multiplexing "
              "upstream); nghttpx, haproxy and grpc-ingress multiplex calls on shared pod connections.",
              ""]
    return "\n".join(lines)
