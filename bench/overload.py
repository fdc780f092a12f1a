#!/usr/bin/env python3
"""Overload: a 3-node qkv cluster at its saturating load, then at a multiple of it.

Issue 20's acceptance: at 4x the saturating load, admitted requests keep their p99 within
3x of the p99 at saturation, the rest get `overloaded` within 10 ms, memory stays bounded,
and no node is convicted as down. The cluster (N=3, R=W=2, as bench/compare) runs with
[limits] client_requests_in_flight_max = --in-flight-max per node; qkv-bench runs workload
A with --no-retry-overloaded, so shed requests complete at once and are counted apart:

  saturation:  --connections x --in-flight           (the knee: ops/s stop growing)
  overload:    --overload-connections x --overload-in-flight

It prints, per run: ops/s admitted, p50/p99 of admitted and of shed requests, the share
shed, the largest resident set of any qkvd during the run, and the nodes' node_down
counters (convictions) after it. --json writes every figure to a file.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log, ROOT  # noqa: E402


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """The largest VmRSS of the given processes, sampled every 0.2 s until stop()."""

    def __init__(self, pids):
        self.pids, self.max_kib, self.done = pids, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.wait(0.2):
            self.max_kib = max([self.max_kib] + [rss_kib(p) for p in self.pids])

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.max_kib


def bench(args, nodes, connections, in_flight, extra):
    cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", nodes, "--workload", "A",
           "--keys", str(args.keys), "--value-bytes", str(args.value_bytes),
           "--connections", str(connections), "--in-flight", str(in_flight),
           "--threads", str(args.bench_threads), "--no-retry-overloaded", "--json",
           "--quiet"] + extra
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
    return json.loads(out.stdout)["phases"][-1]


def counters(args, nodes):
    out = subprocess.run([os.path.join(args.build, "client", "qkvctl"), "--cluster", nodes,
                          "--json", "status"], stdout=subprocess.PIPE, text=True, check=True)
    status = json.loads(out.stdout)
    nodes_list = status["nodes"] if isinstance(status, dict) and "nodes" in status else status
    total = {}
    for node in nodes_list:
        for name, value in node.get("counters", {}).items():
            total[name] = total.get(name, 0) + value
    return total


def measured_run(args, cluster, name, connections, in_flight, extra=()):
    before = counters(args, cluster.nodes())
    sampler = RssSampler([p.pid for p in cluster.procs])
    phase = bench(args, cluster.nodes(), connections, in_flight,
                  ["--duration", str(args.duration)] + list(extra))
    max_rss = sampler.stop()
    after = counters(args, cluster.nodes())
    admitted, shed = phase["admitted"], phase["shed"]
    total = admitted["count"] + shed["count"]
    result = {
        "name": name, "connections": connections, "in_flight": in_flight,
        "admitted_ops_per_sec": admitted["count"] / phase["seconds"],
        "admitted_p50_ms": admitted["p50_us"] / 1000, "admitted_p99_ms": admitted["p99_us"] / 1000,
        "shed_share": shed["count"] / total if total else 0,
        "shed_p50_ms": shed["p50_us"] / 1000, "shed_p99_ms": shed["p99_us"] / 1000,
        "max_rss_mib": max_rss / 1024,
        "node_down": after.get("node_down", 0) - before.get("node_down", 0),
        "errors_other": phase["errors"] - shed["count"],
        "error_kinds": phase["error_kinds"],
    }
    log(f"  {name}: {connections} x {in_flight}: {result['admitted_ops_per_sec']:.0f} admitted "
        f"ops/s, p99 {result['admitted_p99_ms']:.2f} ms; shed {100 * result['shed_share']:.1f} %"
        f" (p99 {result['shed_p99_ms']:.2f} ms); max RSS {result['max_rss_mib']:.0f} MiB; "
        f"node_down {result['node_down']}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--overload-connections", type=int, default=400)
    parser.add_argument("--overload-in-flight", type=int, default=4)
    parser.add_argument("--in-flight-max", type=int, default=150,
                        help="[limits] client_requests_in_flight_max of each node")
    parser.add_argument("--client-pause-ms-max", type=int,
                        help="[limits] client_pause_ms_max of each node (default: qkvd's)")
    parser.add_argument("--shed-backoff-ms", type=int, default=0,
                        help="overload run: a connection whose request was shed waits up to "
                             "this many ms (jittered) before its next, as a client that backs "
                             "off does (0: it sends at once)")
    parser.add_argument("--bench-threads", type=int, default=1)
    parser.add_argument("--base-port", type=int, default=7400)
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qkv-overload-") as workdir:
        config = os.path.join(workdir, "limits.toml")
        with open(config, "w") as f:
            f.write(f"[limits]\nclient_requests_in_flight_max = {args.in_flight_max}\n")
            if args.client_pause_ms_max is not None:
                f.write(f"client_pause_ms_max = {args.client_pause_ms_max}\n")
        cluster = QkvCluster(args.build, workdir, args.base_port, ["--config", config])
        try:
            cluster.start()
            bench(args, cluster.nodes(), 50, 1, ["--load-only", "--load"])
            runs = [measured_run(args, cluster, "saturation", args.connections, args.in_flight),
                    measured_run(args, cluster, "overload", args.overload_connections,
                                 args.overload_in_flight,
                                 ["--shed-backoff-ms", str(args.shed_backoff_ms)])]
        finally:
            cluster.stop()

    sat, over = runs
    print(f"\nqkv overload (3 nodes, N=3, R=W=2, workload A, {args.value_bytes}-byte values, "
          f"client_requests_in_flight_max {args.in_flight_max}, {args.duration:g} s each)\n")
    print(f"{'run':<11}{'load':>10}{'admitted/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'shed %':>8}"
          f"{'shed p99':>10}{'RSS MiB':>9}{'downs':>7}")
    for r in runs:
        print(f"{r['name']:<11}{r['connections']:>6} x{r['in_flight']:<2}"
              f"{r['admitted_ops_per_sec']:>12.0f}{r['admitted_p50_ms']:>9.2f}"
              f"{r['admitted_p99_ms']:>9.2f}{100 * r['shed_share']:>8.1f}{r['shed_p99_ms']:>10.2f}"
              f"{r['max_rss_mib']:>9.0f}{r['node_down']:>7}")
    ratio = over["admitted_p99_ms"] / sat["admitted_p99_ms"] if sat["admitted_p99_ms"] else 0
    print(f"\nadmitted p99 under overload / at saturation: {ratio:.2f} (target <= 3); "
          f"shed p99 {over['shed_p99_ms']:.2f} ms (target <= 10); node_down {over['node_down']} "
          f"(target 0)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "p99_ratio": ratio, "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
