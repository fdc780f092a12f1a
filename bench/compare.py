#!/usr/bin/env python3
"""qkv against a lone redis-server, side by side on this machine (bench/README.md).

Each repetition runs, in alternating order:
  qkv:   a fresh 3-node cluster on 127.0.0.1 (N=3, R=W=2, RocksDB in a temp dir, WAL on,
         no fsync per write), a load phase writing every key once, then qkv-bench workload A
         (50/50 read/update) and workload W (updates only) for --duration seconds each;
  redis: a fresh redis-server (no persistence, 127.0.0.1), keys loaded with SET, then
         redis-benchmark GET and SET over the same key space, value size and connections.
Workload A for redis is the 50/50 mix of its GET and SET runs (time per op is the mean of
the two), workload W its SET run. The medians of the repetitions and the qkv/redis ratios
are printed; --json writes everything to a file.

CPU per operation (issue 17): the servers' CPU time (user + system, /proc/PID/stat) over
each run, for qkv the three qkvd processes (qkv-bench --server-pids measures its phase
windows exactly), for redis the redis-server process around each redis-benchmark run. It
is the steadier figure on a shared machine: ops/s moves with whatever else runs, CPU per
op much less. --in-flight N pipelines both (qkv-bench --in-flight, redis-benchmark -P).

--baseline BUILD also runs a second qkv build (e.g. the commit before a change) in every
repetition, in rotating order with the others, and prints its figures and the ratio of
the build under test to it: the before/after of a change, measured side by side, and
how many repetitions' pairs favour the build under test. --no-redis leaves redis out, so
more repetitions fit in the same time: a change worth 5-10 % needs about five here.
--config FILE and --baseline-config FILE give each side's qkvd a config file: with
--baseline naming the same build, two settings measured side by side.
--tls runs the build under test with [tls] on (a test CA and one certificate naming
n1..n3 and 127.0.0.1, made with openssl) and qkv-bench connecting with --ca: with
--baseline naming the same build, the cost of TLS side by side (docs/performance.md).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wait_port(port, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # polling interval of a bounded wait
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


def wait_ready(http_port, deadline_s=30):
    """Waits until the node answers 200 on /health/ready (it knows the ring): a node that
    only listens fails every request with "has not learned the ring yet". A port that
    answers plain HTTP with 400 speaks TLS only (--tls): asked again over https (a local
    readiness poll, so the certificate is not checked)."""
    end = time.monotonic() + deadline_s
    scheme, context = "http", None
    while time.monotonic() < end:
        try:
            url = f"{scheme}://127.0.0.1:{http_port}/health/ready"
            with urllib.request.urlopen(url, timeout=1, context=context) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError as e:
            if e.code == 400 and scheme == "http":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                scheme = "https"
                continue
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)  # polling interval of a bounded wait
    raise RuntimeError(f"the node with HTTP port {http_port} is not ready after {deadline_s} s")


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class QkvCluster:
    def __init__(self, build, workdir, base_port, extra=(), size=3, quorum=(3, 2, 2), prefix=()):
        self.qkvd = os.path.join(build, "node", "qkvd")
        self.prefix = list(prefix)  # a command each qkvd runs under (e.g. valgrind)
        self.quorum = [str(q) for q in quorum]  # n, r, w
        self.extra = list(extra)  # more qkvd arguments (e.g. --config FILE)
        self.dir = tempfile.mkdtemp(prefix="qkv-compare-", dir=workdir)
        self.size = size
        self.client_ports = [base_port + i for i in range(size)]
        self.peer_ports = [base_port + 100 + i for i in range(size)]
        self.http_ports = [base_port + 200 + i for i in range(size)]
        self.procs = []

    def start(self):
        members = ",".join(f"n{i + 1}=127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))
        for i in range(self.size):
            node_dir = os.path.join(self.dir, f"n{i + 1}")
            os.makedirs(node_dir, exist_ok=True)  # a restart() finds it
            logf = open(os.path.join(node_dir, "qkvd.log"), "a")
            self.procs.append(subprocess.Popen(
                self.prefix + [self.qkvd, "--node-id", f"n{i + 1}", "--data-dir", os.path.join(node_dir, "data"),
                 "--client-listen", f"127.0.0.1:{self.client_ports[i]}",
                 "--peer-listen", f"127.0.0.1:{self.peer_ports[i]}",
                 "--http-listen", f"127.0.0.1:{self.http_ports[i]}", "--members", members,
                 "--n", self.quorum[0], "--r", self.quorum[1], "--w", self.quorum[2],
                 "--log-level", "warn"] + self.extra,
                stdout=logf, stderr=subprocess.STDOUT))
        for p in self.client_ports:
            wait_port(p)
        for p in self.http_ports:
            wait_ready(p)

    def nodes(self):
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def restart(self):
        """Stops the nodes (SIGTERM) and starts them again on the same data: in-memory
        state such as the version cache starts empty, as after a rolling restart."""
        stop(self.procs)
        self.procs = []
        self.start()

    def stop(self):
        stop(self.procs)
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far, in seconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def qkv_bench(args, nodes, workload, extra):
    # The build under test's load generator drives a --baseline build's nodes too: the load
    # is the same for both, and an older qkv-bench may lack --server-pids.
    cmd = [os.path.join(args.build, "bench", "qkv-bench"), "--nodes", nodes, "--workload", workload,
           "--keys", str(args.keys), "--value-bytes", str(args.value_bytes),
           "--connections", str(args.connections), "--in-flight", str(args.in_flight),
           "--threads", str(args.bench_threads), "--json", "--quiet"] + extra
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
    return json.loads(out.stdout)


def make_tls(workdir):
    """A CA and one certificate for n1..n3 on 127.0.0.1; returns (config file, CA file)."""
    d = os.path.join(workdir, "tls")
    os.makedirs(d, exist_ok=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(["openssl", "req", "-x509"] + ec + ["-keyout", f"{d}/ca.key", "-out",
                    f"{d}/ca.crt", "-days", "30", "-subj", "/CN=qkv-bench-ca"], **quiet)
    subprocess.run(["openssl", "req"] + ec + ["-keyout", f"{d}/tls.key", "-out", f"{d}/tls.csr",
                    "-subj", "/CN=qkv-bench"], **quiet)
    with open(f"{d}/ext", "w") as f:
        f.write("subjectAltName=URI:urn:qkv:node:n1,URI:urn:qkv:node:n2,URI:urn:qkv:node:n3,"
                "IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", f"{d}/tls.csr", "-CA", f"{d}/ca.crt",
                    "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "30", "-extfile",
                    f"{d}/ext", "-out", f"{d}/tls.crt"], **quiet)
    with open(f"{d}/qkvd.toml", "w") as f:
        f.write(f'[tls]\ncert_file = "{d}/tls.crt"\nkey_file = "{d}/tls.key"\n'
                f'ca_file = "{d}/ca.crt"\n')
    return f"{d}/qkvd.toml", f"{d}/ca.crt"


def run_qkv(build, args, workdir, config=None, ca=None):
    cluster = QkvCluster(build, workdir, args.base_port, ["--config", config] if config else [])
    try:
        cluster.start()
        # One qkv-bench process for the load and both runs: updates carry the causal context
        # the load (or the previous run) returned for the key, as a real client's would. A
        # process starting afresh would write blind, adding a sibling beside every value.
        pids = ",".join(str(p.pid) for p in cluster.procs)
        phases = qkv_bench(args, cluster.nodes(), "A,W",
                           ["--load", "--duration", str(args.duration),
                            "--server-pids", pids] + (["--ca", ca] if ca else []))["phases"]
        load = phases[0]
        log(f"  qkv load: {load['ops_per_sec']:.0f} puts/s")
        results = {"load_ops_per_sec": load["ops_per_sec"]}
        for workload, run in zip(("A", "W"), phases[1:]):
            p99 = max(op["p99_us"] for op in run["ops"].values()) / 1000
            results[workload] = {"ops_per_sec": run["ops_per_sec"], "p99_ms": p99,
                                 "ops_per_cpu_s": run["ops_per_server_cpu_second"],
                                 "errors": run["errors"], "detail": run}
            log(f"  qkv {workload}: {run['ops_per_sec']:.0f} ops/s, p99 {p99:.2f} ms, "
                f"{run['ops_per_server_cpu_second']:.0f} ops per server CPU-s, "
                f"{run['errors']} errors")
        return results
    finally:
        cluster.stop()


def redis_benchmark(args, port, test, requests):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test,
           "-n", str(requests), "-r", str(args.keys), "-d", str(args.value_bytes),
           "-c", str(args.connections), "-P", str(args.in_flight), "--csv", "-q"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith('"')]
    header = [h.strip('"') for h in rows[0].split(",")]
    values = [v.strip('"') for v in rows[1].split(",")]
    row = dict(zip(header, values))
    return {"ops_per_sec": float(row["rps"]), "p99_ms": float(row["p99_latency_ms"])}


def run_redis(args, workdir):
    port = args.base_port + 300
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        # Load: redis-benchmark's -r draws random keys, so write several times the key count
        # to touch (nearly) all of them, as qkv's load phase writes every key.
        redis_benchmark(args, port, "set", args.keys * 3)
        # Size the runs to last about --duration each at the rate just seen.
        probe = redis_benchmark(args, port, "get", 100_000)
        requests = max(100_000, int(probe["ops_per_sec"] * args.duration))
        measured = {}
        for test in ("get", "set"):
            before = cpu_seconds(proc.pid)
            measured[test] = redis_benchmark(args, port, test, requests)
            measured[test]["ops_per_cpu_s"] = requests / (cpu_seconds(proc.pid) - before)
        get, put = measured["get"], measured["set"]
        mix = 1 / (0.5 / get["ops_per_sec"] + 0.5 / put["ops_per_sec"])
        mix_cpu = 1 / (0.5 / get["ops_per_cpu_s"] + 0.5 / put["ops_per_cpu_s"])
        results = {"GET": get, "SET": put,
                   "A": {"ops_per_sec": mix, "p99_ms": max(get["p99_ms"], put["p99_ms"]),
                         "ops_per_cpu_s": mix_cpu},
                   "W": put}
        log(f"  redis GET {get['ops_per_sec']:.0f}/s, SET {put['ops_per_sec']:.0f}/s, "
            f"A-mix {mix:.0f}/s; per server CPU-s: A {mix_cpu:.0f}, W {put['ops_per_cpu_s']:.0f}")
        return results
    finally:
        stop([proc])


def print_against_redis(runs, median, summary):
    print(f"\n{'workload':<10}{'qkv ops/s':>12}{'qkv p99 ms':>12}{'redis ops/s':>13}"
          f"{'redis p99 ms':>14}{'qkv/redis':>11}")
    for workload in ("A", "W"):
        q, r = median("qkv", workload, "ops_per_sec"), median("redis", workload, "ops_per_sec")
        qp, rp = median("qkv", workload, "p99_ms"), median("redis", workload, "p99_ms")
        summary[workload].update({"qkv_ops_per_sec": q, "qkv_p99_ms": qp,
                                  "redis_ops_per_sec": r, "redis_p99_ms": rp, "ratio": q / r})
        print(f"{workload:<10}{q:>12.0f}{qp:>12.2f}{r:>13.0f}{rp:>14.2f}{q / r:>11.2f}")
    print("\nper server CPU-second (user + system of the server processes over each run)")
    print(f"{'workload':<10}{'qkv ops':>12}{'qkv us/op':>12}{'redis ops':>13}"
          f"{'redis us/op':>14}{'qkv/redis':>11}")
    for workload in ("A", "W"):
        q, r = median("qkv", workload, "ops_per_cpu_s"), median("redis", workload, "ops_per_cpu_s")
        summary[workload].update({"qkv_ops_per_cpu_s": q, "redis_ops_per_cpu_s": r,
                                  "cpu_ratio": q / r})
        print(f"{workload:<10}{q:>12.0f}{1e6 / q:>12.1f}{r:>13.0f}{1e6 / r:>14.1f}{q / r:>11.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline", help="another qkv build directory to run side by side")
    parser.add_argument("--config", help="a qkvd config file for the build under test's nodes "
                        "(flags set the addresses, members and N/R/W)")
    parser.add_argument("--baseline-config", help="the same for the baseline's nodes: with "
                        "--baseline naming the same build, two settings side by side")
    parser.add_argument("--tls", action="store_true",
                        help="the build under test with [tls] on (not with --config)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=1,
                        help="requests outstanding per connection (redis-benchmark -P)")
    parser.add_argument("--bench-threads", type=int, default=1)
    parser.add_argument("--base-port", type=int, default=7200)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--no-redis", action="store_true",
                        help="with --baseline: only the two qkv builds (more repetitions "
                        "in the same time, for changes worth a few percent)")
    args = parser.parse_args()

    if args.no_redis and not args.baseline:
        sys.exit("compare: --no-redis compares two qkv builds: give --baseline")
    for tool in ("redis-server", "redis-benchmark") if not args.no_redis else ():
        if not shutil.which(tool):
            sys.exit(f"compare: {tool} is missing (apt-get install redis-server redis-tools)")
    binaries = [(args.build, "node/qkvd"), (args.build, "bench/qkv-bench")]
    if args.baseline:
        binaries.append((args.baseline, "node/qkvd"))
    for build, binary in binaries:
        if not os.access(os.path.join(build, binary), os.X_OK):
            sys.exit(f"compare: {build}/{binary} is missing: run scripts/test (or "
                     "scripts/build) first")

    if args.tls and args.config:
        sys.exit("compare: --tls makes the config of the build under test; drop --config")
    machine = {"cores": os.cpu_count(), "loadavg_before": os.getloadavg()}
    runs = []
    with tempfile.TemporaryDirectory(prefix="qkv-compare-") as workdir:
        ca = None
        if args.tls:
            args.config, ca = make_tls(workdir)
        systems = ["qkv"] + ([] if args.no_redis else ["redis"]) + (
            ["baseline"] if args.baseline else [])
        for i in range(args.repeat):
            # Rotate the order, so no system always runs first (or after the same one).
            order = systems[i % len(systems):] + systems[:i % len(systems)]
            run = {}
            for system in order:
                log(f"repetition {i + 1}/{args.repeat}: {system}")
                if system == "redis":
                    run[system] = run_redis(args, workdir)
                else:
                    baseline = system == "baseline"
                    run[system] = run_qkv(args.baseline if baseline else args.build, args, workdir,
                                          args.baseline_config if baseline else args.config,
                                          None if baseline else ca)
            runs.append(run)
    machine["loadavg_after"] = os.getloadavg()

    def median(system, workload, field):
        return statistics.median(r[system][workload][field] for r in runs)

    print(f"\nqkv (3 nodes, N=3, R=W=2) vs {'its baseline' if args.no_redis else 'redis-server (1 process)'}, "
          f"{args.repeat} repetitions, medians; {machine['cores']} cores, load "
          f"{machine['loadavg_before'][0]:.2f} before")
    print(f"{args.keys} keys, {args.value_bytes}-byte values, {args.connections} connections x "
          f"{args.in_flight} in flight, {args.duration:g} s per workload")
    summary = {"A": {}, "W": {}}
    if not args.no_redis:
        print_against_redis(runs, median, summary)
    if args.baseline:
        print(f"\nbaseline qkv build: {args.baseline}")
        print(f"{'workload':<10}{'qkv ops/s':>12}{'qkv p99 ms':>12}{'base ops/s':>13}"
              f"{'base p99 ms':>14}{'qkv/base':>11}")
        for workload in ("A", "W"):
            q, b = median("qkv", workload, "ops_per_sec"), median("baseline", workload,
                                                                   "ops_per_sec")
            qp, bp = median("qkv", workload, "p99_ms"), median("baseline", workload, "p99_ms")
            qc = median("qkv", workload, "ops_per_cpu_s")
            bc = median("baseline", workload, "ops_per_cpu_s")
            summary[workload].update({"baseline_ops_per_sec": b, "baseline_p99_ms": bp,
                                      "ratio_to_baseline": q / b,
                                      "baseline_ops_per_cpu_s": bc,
                                      "cpu_ratio_to_baseline": qc / bc})
            # Each repetition ran both builds back to back: how many such pairs favour the
            # build under test tells a small change from noise better than the medians.
            pairs = [r["qkv"][workload]["ops_per_cpu_s"] / r["baseline"][workload]["ops_per_cpu_s"]
                     for r in runs]
            better = sum(1 for x in pairs if x > 1)
            print(f"{workload:<10}{q:>12.0f}{qp:>12.2f}{b:>13.0f}{bp:>14.2f}{q / b:>11.2f}"
                  f"   per CPU-s {qc:.0f} vs {bc:.0f}: {qc / bc:.2f}; pairs better "
                  f"{better} of {len(pairs)} ({min(pairs):.2f}-{max(pairs):.2f})")
    errors = sum(r[system][w]["errors"] for r in runs for system in r if system != "redis"
                 for w in ("A", "W"))
    print(f"\nqkv errors: {errors}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": machine, "summary": summary,
                       "runs": runs}, f, indent=2)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
