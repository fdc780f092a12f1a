#!/usr/bin/env python3
"""One qkvd with 1 and with more request threads, side by side in one run (issue 17).

Starts a single node (N=1, R=W=1) with --io-threads 1, then with --io-threads T (the core
thread and T - 1 I/O threads serving its sockets: net/io_threads.h) or, with
--commit-thread, with the storage thread writing its group commits (node/storage_thread.h),
alternating, --repeat
times each; each run loads the keys once and runs the workload with qkv-bench. Prints per
run the ops/s, p99, and where the CPU went: every qkvd thread's and qkv-bench's share of a
core over the measured window (utime + stime from /proc/PID/task/TID/stat), then the
ratio of the medians. Issue 17's target: with 2 threads the node uses more than 1.4 cores
and does >= 1.5x the ops/s of 1 thread.

  python3 bench/threads.py --build build --threads 2 --workload W --duration 10 --repeat 3
  python3 bench/threads.py --build build --commit-thread --workload W --duration 10 --repeat 3
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log  # noqa: E402


def thread_cpu(pid):
    """{thread name: CPU seconds so far} of process `pid` (threads of one name summed)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def run(args, variant):
    flags = args.variant_flags.split() if variant != 1 else ["--io-threads", "1"]
    flags += args.node_flags.split()
    cluster = QkvCluster(args.build, args.workdir, args.base_port, flags, size=1,
                         quorum=(1, 1, 1))
    try:
        cluster.start()
        cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", cluster.nodes(),
               "--workload", args.workload, "--keys", str(args.keys),
               "--value-bytes", str(args.value_bytes), "--connections", str(args.connections),
               "--in-flight", str(args.in_flight), "--load", "--duration", str(args.duration),
               "--quiet"]
        bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        # The window: the middle of the workload phase (after the load, before its end).
        while not os.path.exists(f"/proc/{bench.pid}"):
            time.sleep(0.01)
        time.sleep(args.settle)
        node_pid = cluster.procs[0].pid
        window = max(1.0, args.duration - 2)
        before = (thread_cpu(node_pid), thread_cpu(bench.pid), time.monotonic())
        time.sleep(window)
        after = (thread_cpu(node_pid), thread_cpu(bench.pid), time.monotonic())
        out, _ = bench.communicate()
        seconds = after[2] - before[2]
        node = {k: (after[0][k] - before[0].get(k, 0)) / seconds for k in after[0]}
        load = sum((after[1][k] - before[1].get(k, 0)) / seconds for k in after[1])
        line = next(l for l in out.splitlines() if l.startswith(f"run {args.workload}:"))
        ops = float(line.split("=")[1].split()[0])
        return {"ops_per_sec": ops, "node_cores": sum(node.values()), "threads": node,
                "bench_cores": load, "summary": line}
    finally:
        cluster.stop()


def label(args, variant):
    return "one thread" if variant == 1 else args.variant_flags


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2, help="io_threads of the second node")
    ap.add_argument("--workload", default="W")
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-bytes", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--in-flight", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--settle", type=float, default=3,
                    help="seconds from qkv-bench's start (its load phase) to the window")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base-port", type=int, default=24000)
    ap.add_argument("--commit-thread", action="store_true",
                    help="the second node has one core thread and the storage thread "
                         "(--commit-thread true) instead of --threads I/O threads")
    ap.add_argument("--node-flags", default="",
                    help="qkvd flags of both nodes, e.g. --sync-writes")
    args = ap.parse_args()
    args.variant_flags = ("--io-threads 1 --commit-thread true" if args.commit_thread
                          else f"--io-threads {args.threads}")
    args.workdir = tempfile.gettempdir()
    results = {1: [], args.threads: []}
    for i in range(args.repeat):
        order = [1, args.threads] if i % 2 == 0 else [args.threads, 1]
        for t in order:
            r = run(args, t)
            results[t].append(r)
            threads = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["threads"].items())
                                if v >= 0.01)
            log(f"{label(args, t)}: {r['ops_per_sec']:.0f} ops/s, node {r['node_cores']:.2f} "
                f"cores ({threads}), qkv-bench {r['bench_cores']:.2f} cores")
    med = {t: statistics.median(r["ops_per_sec"] for r in rs) for t, rs in results.items()}
    cores = {t: statistics.median(r["node_cores"] for r in rs) for t, rs in results.items()}
    print(f"\nworkload {args.workload}, {args.connections} connections x {args.in_flight} in "
          f"flight, medians of {args.repeat}")
    for t in results:
        print(f"{label(args, t)}: {med[t]:.0f} ops/s, node {cores[t]:.2f} cores")
    print(f"{label(args, args.threads)} / {label(args, 1)}: "
          f"{med[args.threads] / med[1]:.2f}x ops/s")


if __name__ == "__main__":
    main()
