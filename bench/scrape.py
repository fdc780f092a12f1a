#!/usr/bin/env python3
"""What Prometheus costs a qkv cluster: GET /metrics every --interval-ms on every node while
qkv-bench runs workload A, against the same run without scraping (issue 14: under 2 %).

One 3-node cluster (N=3, R=W=2, as bench/compare), loaded once; then --repetitions pairs
of --duration-second runs, scraped and unscraped in alternating order, so drift on a shared
machine falls on both. Prints each run, the medians and their ratio, and the CPU one scrape
costs a node (its utime+stime over --cpu-scrapes back-to-back scrapes of an idle node,
from /proc), which is steady where throughput is not.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log, qkv_bench, ROOT  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return len(r.read())


class Scraper:
    """Scrapes every port each interval on a thread of its own until stop()."""

    def __init__(self, ports, interval_s):
        self.ports, self.interval_s, self.count = ports, interval_s, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        next_at = time.monotonic()
        while not self.done.wait(max(0.0, next_at - time.monotonic())):
            for p in self.ports:
                scrape(p)
                self.count += 1
            next_at += self.interval_s

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.count


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--cpu-scrapes", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--bench-threads", type=int, default=1)
    parser.add_argument("--base-port", type=int, default=7500)
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qkv-scrape-") as workdir:
        cluster = QkvCluster(args.build, workdir, args.base_port)
        try:
            cluster.start()
            qkv_bench(args.build, args, cluster.nodes(), "A", ["--load-only", "--load"])
            body_bytes = scrape(cluster.http_ports[0])
            # CPU per scrape, on an idle node.
            pid = cluster.procs[0].pid
            before = cpu_seconds(pid)
            started = time.monotonic()
            for _ in range(args.cpu_scrapes):
                scrape(cluster.http_ports[0])
            cpu_us = (cpu_seconds(pid) - before) / args.cpu_scrapes * 1e6
            wall_ms = (time.monotonic() - started) / args.cpu_scrapes * 1e3
            log(f"  one scrape: {body_bytes} bytes, {cpu_us:.0f} us of qkvd CPU, "
                f"{wall_ms:.2f} ms wall")
            runs = {"scraped": [], "unscraped": []}
            for rep in range(args.repetitions):
                order = ["scraped", "unscraped"] if rep % 2 == 0 else ["unscraped", "scraped"]
                for kind in order:
                    scraper = (Scraper(cluster.http_ports, args.interval_ms / 1000)
                               if kind == "scraped" else None)
                    phase = qkv_bench(args.build, args, cluster.nodes(), "A",
                                      ["--duration", str(args.duration)])["phases"][-1]
                    scrapes = scraper.stop() if scraper else 0
                    runs[kind].append(phase["ops_per_sec"])
                    log(f"  {kind}: {phase['ops_per_sec']:.0f} ops/s ({scrapes} scrapes)")
        finally:
            cluster.stop()

    scraped = statistics.median(runs["scraped"])
    unscraped = statistics.median(runs["unscraped"])
    cost = 1 - scraped / unscraped
    print(f"\nqkv workload A, 3 nodes, {args.connections} connections, {args.duration:g} s runs, "
          f"medians of {args.repetitions}")
    print(f"  unscraped: {unscraped:.0f} ops/s")
    print(f"  scraped every {args.interval_ms} ms on every node: {scraped:.0f} ops/s")
    print(f"  throughput cost: {100 * cost:.1f} % (target < 2 %)")
    print(f"  one scrape: {body_bytes} bytes, {cpu_us:.0f} us of the node's CPU "
          f"({100 * cpu_us / (args.interval_ms * 1000):.3f} % of a core at this interval)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "cost": cost, "cpu_us_per_scrape": cpu_us,
                       "body_bytes": body_bytes, "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
