#!/usr/bin/env python3
"""Data lifecycle: write and delete a key space, then watch tombstone reaping bound the disk.

Issue 19's acceptance: a workload that writes and deletes 1 M keys ends with disk use and
tree sizes bounded. A 3-node cluster (N=3, R=W=2, as bench/compare) runs with a short
tombstone grace (--grace-s; hints live --hint-age-s, requests at most 10 s: the config
refuses a grace that does not exceed them). qkv-bench writes every key once, then deletes
every key with its context (--load-only --delete-all). The script then samples, every
--sample-s until every tombstone is reaped or --wait-s passes: the data directories' size
(du), RocksDB's estimate of live keys and its SST and memtable bytes (GET /metrics), and the
reaping counters. Prints a table; --json FILE writes the samples.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log, ROOT  # noqa: E402


def metrics(port):
    """The node's /metrics as {name: value} (unlabelled samples only)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or "{" in line or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], stdout=subprocess.PIPE, text=True, check=True)
    return int(out.stdout.split()[0])


def sample(cluster, started):
    row = {"t_s": round(time.monotonic() - started, 1), "disk_bytes": 0}
    totals = {}
    for i, port in enumerate(cluster.http_ports):
        row["disk_bytes"] += du_bytes(os.path.join(cluster.dir, f"n{i + 1}", "data"))
        for name, value in metrics(port).items():
            totals[name] = totals.get(name, 0) + value
    for key, name in [("estimated_keys", "qkv_rocksdb_estimated_keys"),
                      ("live_sst_bytes", "qkv_rocksdb_live_sst_bytes"),
                      ("memtable_bytes", "qkv_rocksdb_memtable_bytes"),
                      ("tombstones_pending", "qkv_tombstones_pending"),
                      ("tombstones_reaped", "qkv_tombstones_reaped_total"),
                      ("reap_checks", "qkv_reap_checks_total"),
                      ("reaps_deferred", "qkv_reaps_deferred_total")]:
        row[key] = int(totals.get(name, 0))
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--value-bytes", type=int, default=1000)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--in-flight", type=int, default=4)
    p.add_argument("--grace-s", type=int, default=60)
    p.add_argument("--hint-age-s", type=int, default=30)
    p.add_argument("--checks-per-second", type=int, default=20000)
    p.add_argument("--sample-s", type=float, default=10)
    p.add_argument("--wait-s", type=float, default=900)
    p.add_argument("--base-port", type=int, default=27400)
    p.add_argument("--json", help="write the samples here")
    args = p.parse_args()

    workdir = tempfile.mkdtemp(prefix="qkv-lifecycle-")
    config = os.path.join(workdir, "qkvd.toml")
    with open(config, "w") as f:
        f.write(f"""[timeouts]
request_timeout_max_ms = 10000
[handoff]
hint_age_max_ms = {args.hint_age_s * 1000}
[tombstones]
grace_ms = {args.grace_s * 1000}
checks_per_second_max = {args.checks_per_second}
checks_in_flight_max = 256
""")
    cluster = QkvCluster(args.build, workdir, args.base_port, ["--config", config])
    samples = []
    try:
        cluster.start()
        started = time.monotonic()
        samples.append(dict(sample(cluster, started), phase="empty"))
        log(f"writing and deleting {args.keys} keys of {args.value_bytes} bytes")
        cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", cluster.nodes(),
               "--keys", str(args.keys), "--value-bytes", str(args.value_bytes),
               "--connections", str(args.connections), "--in-flight", str(args.in_flight),
               "--load-only", "--delete-all", "--json", "--quiet"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        phases = json.loads(out.stdout)["phases"]
        for ph in phases:
            log(f"  {ph['phase']}: {ph['count']} ops in {ph['seconds']:.0f} s "
                f"({ph['ops_per_sec']:.0f} ops/s), {ph['errors']} errors")
        samples.append(dict(sample(cluster, started), phase="deleted"))
        log(json.dumps(samples[-1]))
        deadline = time.monotonic() + args.wait_s
        while time.monotonic() < deadline:
            time.sleep(args.sample_s)
            row = dict(sample(cluster, started), phase="reaping")
            samples.append(row)
            log(json.dumps(row))
            if row["tombstones_pending"] == 0 and row["tombstones_reaped"] >= 3 * args.keys:
                break
        samples.append(dict(sample(cluster, started), phase="end"))
    finally:
        cluster.stop()
    cols = ["phase", "t_s", "disk_bytes", "live_sst_bytes", "memtable_bytes", "estimated_keys",
            "tombstones_pending", "tombstones_reaped", "reap_checks", "reaps_deferred"]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for row in samples:
        print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "samples": samples}, f, indent=2)


if __name__ == "__main__":
    main()
