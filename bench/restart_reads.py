#!/usr/bin/env python3
"""Reads after a restart: the version cache starts empty, so how a build fills it decides
what a digest read costs (issue 17; docs/performance.md, "Reads after a restart").

For each build (--build, and --baseline side by side, alternating which runs first),
--repeat times: a fresh 3-node cluster (N=3, R=W=2) is loaded with --keys keys, restarted
on the same data (SIGTERM, then started again), and read with --workload (C: reads only;
B: 95 % reads) for --duration s by qkv-bench. Prints ops/s, p99 and ops per server
CPU-second per run, the nodes' digest and version-cache counters summed, and the medians.

  python3 bench/restart_reads.py --baseline <other build> --workload C --repeat 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log  # noqa: E402

COUNTERS = ("digest_reads", "version_cache_fills", "version_cache_hits", "version_cache_misses")


def counters(cluster):
    total = dict.fromkeys(COUNTERS, 0)
    for port in cluster.http_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as r:
            status = json.load(r).get("counters", {})
        for name in COUNTERS:
            total[name] += status.get(name, 0)
    return total


def qkv_bench(args, cluster, extra):
    cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", cluster.nodes(),
           "--keys", str(args.keys), "--value-bytes", str(args.value_bytes),
           "--connections", str(args.connections), "--distribution", args.distribution,
           "--json", "--quiet"] + extra
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
    return json.loads(out.stdout)["phases"][-1]


def run(args, build, workdir):
    cluster = QkvCluster(build, workdir, args.base_port)
    try:
        cluster.start()
        qkv_bench(args, cluster, ["--load", "--load-only"])
        cluster.restart()
        pids = ",".join(str(p.pid) for p in cluster.procs)
        phase = qkv_bench(args, cluster, ["--workload", args.workload,
                                          "--duration", str(args.duration),
                                          "--server-pids", pids])
        result = {"ops_per_sec": phase["ops_per_sec"],
                  "p99_ms": max(op["p99_us"] for op in phase["ops"].values()) / 1000,
                  "ops_per_cpu_s": phase["ops_per_server_cpu_second"],
                  "errors": phase["errors"], **counters(cluster)}
        log(f"  {build}: {result['ops_per_sec']:.0f} ops/s, p99 {result['p99_ms']:.2f} ms, "
            f"{result['ops_per_cpu_s']:.0f} ops per server CPU-s, " +
            ", ".join(f"{name} {result[name]}" for name in COUNTERS))
        return result
    finally:
        cluster.stop()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(here, "..", "build"))
    parser.add_argument("--baseline", help="another qkv build directory to run side by side")
    parser.add_argument("--workload", default="C", choices=["B", "C"])
    parser.add_argument("--distribution", default="uniform", choices=["uniform", "zipfian"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--base-port", type=int, default=7400)
    args = parser.parse_args()

    builds = [("build", args.build)] + ([("baseline", args.baseline)] if args.baseline else [])
    runs = {name: [] for name, _ in builds}
    with tempfile.TemporaryDirectory(prefix="qkv-restart-reads-") as workdir:
        for i in range(args.repeat):
            for name, build in builds[i % len(builds):] + builds[:i % len(builds)]:
                log(f"repetition {i + 1}/{args.repeat}: {name}")
                runs[name].append(run(args, build, workdir))

    print(f"\nreads after a restart: workload {args.workload} ({args.distribution}), "
          f"{args.keys} keys of {args.value_bytes} bytes, {args.connections} connections, "
          f"{args.duration:g} s, {args.repeat} repetitions, medians")
    print(f"{'build':<10}{'ops/s':>10}{'p99 ms':>9}{'ops/CPU-s':>11}{'fills':>10}{'errors':>8}")
    med = {}
    for name, _ in builds:
        m = {k: statistics.median(r[k] for r in runs[name])
             for k in ("ops_per_sec", "p99_ms", "ops_per_cpu_s", "version_cache_fills")}
        med[name] = m
        errors = sum(r["errors"] for r in runs[name])
        print(f"{name:<10}{m['ops_per_sec']:>10.0f}{m['p99_ms']:>9.2f}{m['ops_per_cpu_s']:>11.0f}"
              f"{m['version_cache_fills']:>10.0f}{errors:>8}")
    if args.baseline:
        pairs = [a["ops_per_cpu_s"] / b["ops_per_cpu_s"]
                 for a, b in zip(runs["build"], runs["baseline"])]
        print(f"build / baseline per CPU-s: {med['build']['ops_per_cpu_s'] / med['baseline']['ops_per_cpu_s']:.2f}"
              f" (pairs better {sum(p > 1 for p in pairs)} of {len(pairs)}, "
              f"{min(pairs):.2f}-{max(pairs):.2f})")
    return 0 if all(r["errors"] == 0 for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
