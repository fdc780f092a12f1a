#!/usr/bin/env python3
"""Token-aware routing against the node-list client, side by side in one run (issue 18).

Starts a 5-node cluster (N=3, R=W=2) on 127.0.0.1, loads the keys once, then runs the same
workload with qkv-bench's two clients in alternation, --repeat times each:
  node-list  every connection talks to one node of the list, which forwards to a primary
             when it is not one (2 of 5 nodes are not: 40 % of requests take a hop);
  cluster    the token-aware, pooled cluster client (client/cluster_client.h) sends every
             request to a primary of its key.
Prints ops/s, p50/p99 and the nodes' `forwarded` counter per run, and the ratio of medians.

  python3 bench/routing.py --build build --workload A --duration 15 --repeat 3
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log  # noqa: E402


def forwarded(cluster):
    total = 0
    for port in cluster.http_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as r:
            status = json.load(r)
        total += status.get("counters", {}).get("forwarded", 0)
    return total


def bench(args, cluster, client, extra):
    import subprocess
    cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", cluster.nodes(),
           "--workload", args.workload, "--keys", str(args.keys),
           "--value-bytes", str(args.value_bytes), "--connections", str(args.connections),
           "--threads", str(args.bench_threads), "--client", client, "--json", "--quiet"] + extra
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--workload", default="A")
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-bytes", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--bench-threads", type=int, default=1)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base-port", type=int, default=23000)
    ap.add_argument("--connections-per-node", type=int, default=0,
                    help="the cluster client's pool per node (0: connections / nodes)")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="qkv-routing-")
    cluster = QkvCluster(args.build, workdir, args.base_port, size=5)
    results = {"node-list": [], "cluster": []}
    try:
        cluster.start()
        log("loading")
        bench(args, cluster, "cluster", ["--load-only"])
        for i in range(args.repeat):
            # Alternating which goes first cancels the drift of a growing database.
            for client in ("node-list", "cluster") if i % 2 == 0 else ("cluster", "node-list"):
                before = forwarded(cluster)
                extra = ["--duration", str(args.duration)]
                if client == "cluster" and args.connections_per_node:
                    extra += ["--connections-per-node", str(args.connections_per_node)]
                extra += ["--server-pids", ",".join(str(p.pid) for p in cluster.procs)]
                out = bench(args, cluster, client, extra)
                phase = out["phases"][-1]
                row = {"ops_per_s": round(phase["ops_per_sec"]),
                       "p50_ms": phase["admitted"]["p50_us"] / 1000,
                       "p99_ms": phase["admitted"]["p99_us"] / 1000,
                       "errors": phase["errors"], "forwarded": forwarded(cluster) - before,
                       "server_cpu_us_per_op": round(phase.get("server_cpu_us_per_op", 0), 1)}
                results[client].append(row)
                log(f"run {i + 1} {client}: {row}")
    finally:
        cluster.stop()
    med = {c: statistics.median(r["ops_per_s"] for r in rows) for c, rows in results.items()}
    print(json.dumps({"workload": args.workload, "runs": results, "median_ops_per_s": med,
                      "cluster_over_node_list": med["cluster"] / med["node-list"]}, indent=2))


if __name__ == "__main__":
    main()
