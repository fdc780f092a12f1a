#!/usr/bin/env python3
"""Instructions per client operation of a 3-node cluster, counted by valgrind (issue 17).

CPU time per operation on this shared 2-core machine moves by 20-30 % between runs of one
build, so a change worth a few percent cannot be told from noise with bench/compare.
An instruction count can: each qkvd runs under valgrind's callgrind (no cache simulation),
a fixed workload runs against the cluster, and the instructions the three processes
executed (every thread: the node's, RocksDB's flush and compaction threads) are divided by
the client operations. It counts user-space work only (the kernel's TCP is not in it) and
says nothing of cache misses, which the memtable's skip list is made of: it measures code
paths, not time. Runs of one build agree within ~2 %.

Each repetition starts a fresh cluster (N=3, R=W=2) for each build, in alternating order,
and runs one qkv-bench: --keys keys loaded, then --ops operations of the workload (updates
carry their key's context), over --connections connections with 1 request in flight
(valgrind slows each node ~50x: few connections keep requests well inside their deadline).
Prints instructions per operation per run, the medians, and with --baseline the ratio.
--keep keeps the callgrind files for callgrind_annotate.

  python3 bench/instructions.py --build build --baseline /tmp/base/build --repeat 2
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import QkvCluster, log  # noqa: E402


def callgrind_total(path):
    """The instructions (Ir) a callgrind output file counted."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals (did the process exit before callgrind wrote it?)")


def run_once(args, build, workdir):
    """Instructions per client op of the three qkvd over one load + workload run."""
    out_dir = tempfile.mkdtemp(prefix="callgrind-", dir=workdir)
    prefix = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--collect-jumps=no",
              f"--callgrind-out-file={out_dir}/callgrind.out.%p"]
    cluster = QkvCluster(build, workdir, args.base_port, prefix=prefix)
    try:
        cluster.start()
        cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", cluster.nodes(),
               "--workload", args.workload, "--keys", str(args.keys), "--value-bytes",
               str(args.value_bytes), "--connections", str(args.connections), "--in-flight", "1",
               "--load", "--ops", str(args.ops), "--json", "--quiet"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if out.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
        phases = json.loads(out.stdout)["phases"]
    finally:
        cluster.stop()  # SIGTERM: callgrind writes its file as each node exits
    ops = sum(p["count"] for p in phases)
    errors = sum(p["errors"] for p in phases)
    files = glob.glob(os.path.join(out_dir, "callgrind.out.*"))
    if len(files) != 3:
        raise RuntimeError(f"{out_dir}: {len(files)} callgrind files, expected 3")
    total = sum(callgrind_total(f) for f in files)
    if args.keep:
        log(f"  callgrind files kept in {out_dir}")
    else:
        shutil.rmtree(out_dir, ignore_errors=True)
    return total / ops, ops, errors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--baseline", help="another build directory, run side by side")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--workload", default="W", choices=["W", "A"])
    p.add_argument("--keys", type=int, default=20000)
    p.add_argument("--ops", type=int, default=20000)
    p.add_argument("--value-bytes", type=int, default=1000)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--base-port", type=int, default=7400)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py needs valgrind: apt-get install valgrind")
    builds = {"build": os.path.abspath(args.build)}
    if args.baseline:
        builds["baseline"] = os.path.abspath(args.baseline)
    results = {name: [] for name in builds}
    # --keep: the callgrind files live in the work directory, so it outlives the run too.
    workdir = tempfile.mkdtemp(prefix="qkv-instructions-")
    try:
        for i in range(args.repeat):
            order = list(builds) if i % 2 == 0 else list(reversed(builds))
            for name in order:
                per_op, ops, errors = run_once(args, builds[name], workdir)
                results[name].append(per_op)
                log(f"repetition {i + 1}/{args.repeat}: {name}: {per_op:,.0f} instructions per op "
                    f"({ops} ops, {errors} errors)")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for name, runs in results.items():
        print(f"{name:9} {builds[name]}: median {statistics.median(runs):,.0f} instructions per "
              f"op over {len(runs)} runs ({', '.join(f'{r:,.0f}' for r in runs)})")
    if args.baseline:
        ratio = statistics.median(results["build"]) / statistics.median(results["baseline"])
        print(f"build / baseline: {ratio:.3f}")


if __name__ == "__main__":
    main()
