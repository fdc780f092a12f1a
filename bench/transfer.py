#!/usr/bin/env python3
"""Ownership transfer with real qkvd processes: what an operator sees when a node joins.

A 3-node cluster on 127.0.0.1 (N=3, R=W=2, Q=--partitions, RocksDB WAL on, no fsync) is
loaded once with --keys keys of --value-bytes bytes, so each key range (partition) holds
keys/Q keys (4 M keys, Q=4: 1 M per range). The nodes are stopped cleanly and their data
directories kept as a snapshot. Then, for each receive limit in --limits (the joining node's
transfer.bytes_per_second_max, set in its TOML config):

  1. the snapshot is copied, n1..n3 start from the copy and a 4th node n4 starts empty
     (--seeds; it owns nothing yet);
  2. before: qkv-bench workload A for --before seconds (--connections x --in-flight,
     closed loop), p50/p99 per op;
  3. `qkvctl node join n4`, `qkvctl ring commit`, and at once the same qkv-bench again
     while `qkvctl ring status --json` is polled every --poll seconds, until the ring has
     switched (no transition, every member on the new version); then qkv-bench is told to
     stop (SIGUSR1) and reports the "during" latencies;
  4. the receiver's counters (transfer_keys_received, transfer_bytes_received) and the
     times: commit -> first key received -> every range received -> ranges done (trees
     current) -> ring switched. Throughput = what n4 received / (last range received -
     first key seen), and over commit -> switched;
  5. optionally (--verify, the default) `qkvctl repair` on n4: anti-entropy compares its
     ranges with the other replicas; keys_repaired > 0 would mean keys missed.

--idle runs no client load (no before/during latencies): the transfer alone. The machine's
other load matters (2 shared cores): each run reports how many cores other processes used.

Bytes are the receiver's count: key + encoded state (value, version vector, dots) of every
state joined, not the TCP bytes. Everything listens on 127.0.0.1; every process started is
stopped at the end (also on errors and Ctrl-C).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from compare import wait_port  # bench/compare.py: the same bounded wait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process (and its threads), in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def schedstat(pid):
    """(on-CPU s, runnable-but-waiting s) of a process's main thread (/proc/.../schedstat)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            run_ns, wait_ns = f.read().split()[:2]
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return None


def machine_cpu():
    """(busy, total) jiffies of every CPU together (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    return sum(v[:8]) - idle, sum(v[:8])


def own_and_children_cpu():
    """CPU seconds of this script and of its waited-for children (qkvctl, qkv-bench, perf)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Procs:
    """Every process this script starts, stopped by stop_all (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, logpath=None, **kw):
        out = open(logpath, "w") if logpath else subprocess.DEVNULL
        p = subprocess.Popen(cmd, stdout=kw.pop("stdout", out), stderr=subprocess.STDOUT
                             if logpath else subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, timeout=30):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


class Bench:
    def __init__(self, args, ports=None):
        self.args = args
        self.qkvd = os.path.join(args.build, "node", "qkvd")
        self.qkvctl = os.path.join(args.build, "client", "qkvctl")
        self.qkv_bench = os.path.join(args.build, "bench", "qkv-bench")
        self.procs = Procs()
        # A reused snapshot keeps n1..n3's ports: the nodes saved their peers' addresses.
        self.client = ports["client"][:3] + [free_port()] if ports else [free_port()
                                                                          for _ in range(4)]
        self.peer = ports["peer"][:3] + [free_port()] if ports else [free_port()
                                                                      for _ in range(4)]
        self.members = ",".join(f"n{i + 1}=127.0.0.1:{self.peer[i]}" for i in range(3))
        self.nodes = {}  # id -> Popen

    def addr(self, i):
        return f"127.0.0.1:{self.client[i]}"

    def cluster3(self):
        return ",".join(self.addr(i) for i in range(3))

    def start_node(self, i, datadir, logdir, config=None):
        node = f"n{i + 1}"
        cmd = [self.qkvd, "--node-id", node, "--data-dir", os.path.join(datadir, node),
               "--client-listen", self.addr(i), "--peer-listen", f"127.0.0.1:{self.peer[i]}",
               "--http-listen", "",
               "--partitions", str(self.args.partitions), "--n", "3", "--r", "2", "--w", "2",
               "--log-level", "info"]
        cmd += ["--members", self.members] if i < 3 else ["--seeds", f"127.0.0.1:{self.peer[0]}"]
        if config:
            cmd += ["--config", config]
        self.nodes[node] = self.procs.start(cmd, os.path.join(logdir, f"{node}.log"))
        wait_port(self.client[i])

    def stop_nodes(self):
        codes = {n: self.procs.stop(p) for n, p in self.nodes.items()}
        self.nodes = {}
        return codes

    def ctl(self, cluster, *cmd, check=True, timeout=60):
        out = subprocess.run([self.qkvctl, "--cluster", cluster, "--json", *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"qkvctl {' '.join(cmd)} exited {out.returncode}: "
                               f"{out.stdout}{out.stderr}")
        try:
            return json.loads(out.stdout)
        except json.JSONDecodeError:
            if check:
                raise RuntimeError(f"qkvctl {' '.join(cmd)}: not JSON: {out.stdout!r}")
            return None

    def wait_members(self, ids, deadline_s=30):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            m = self.ctl(self.addr(0), "members", check=False)
            if m and "members" in m:
                up = {x["id"] for x in m["members"] if x["up"]}
                if set(ids) <= up:
                    return
            time.sleep(0.25)  # polling interval of a bounded wait
        raise RuntimeError(f"n1 does not see {ids} up after {deadline_s} s")

    def bench_cmd(self, extra):
        a = self.args
        return [self.qkv_bench, "--nodes", self.cluster3(), "--keys", str(a.keys),
                "--value-bytes", str(a.value_bytes), "--json", "--quiet"] + extra

    def run_bench(self, extra, timeout):
        out = subprocess.run(self.bench_cmd(extra), stdout=subprocess.PIPE, text=True,
                             timeout=timeout)
        if out.returncode not in (0, 1):
            raise RuntimeError(f"qkv-bench exited {out.returncode}")
        return json.loads(out.stdout)

    # ---- the load, once ----

    def load(self, snapshot, logdir):
        a = self.args
        for i in range(3):
            self.start_node(i, snapshot, logdir)
        self.wait_members(["n1", "n2", "n3"])
        log(f"loading {a.keys:,} keys of {a.value_bytes} B ({a.load_connections} connections x "
            f"{a.load_in_flight} in flight)")
        t = time.monotonic()
        report = self.run_bench(["--load-only", "--connections", str(a.load_connections),
                                 "--in-flight", str(a.load_in_flight), "--threads", "2"],
                                timeout=a.load_timeout)
        load = report["phases"][0]
        log(f"loaded in {time.monotonic() - t:.0f} s: {load['ops_per_sec']:.0f} puts/s, "
            f"{load['errors']} errors")
        if load["errors"]:
            raise RuntimeError(f"the load had {load['errors']} errors: {load['error_kinds']}")
        codes = self.stop_nodes()
        if any(codes.values()):
            raise RuntimeError(f"nodes did not stop cleanly after the load: {codes}")
        return {"seconds": load["seconds"], "puts_per_sec": load["ops_per_sec"]}

    # ---- one transfer ----

    def transfer(self, snapshot, workdir, limit):
        a = self.args
        rundir = os.path.join(workdir, f"run-{limit}")
        logdir = os.path.join(rundir, "logs")
        t = time.monotonic()
        shutil.copytree(snapshot, os.path.join(rundir, "data"))
        os.makedirs(logdir)
        log(f"limit {limit / MiB:g} MiB/s: snapshot copied in {time.monotonic() - t:.1f} s")
        config = os.path.join(rundir, "n4.toml")
        with open(config, "w") as f:
            f.write(f"[transfer]\nbytes_per_second_max = {limit}\n")
            if a.batch_bytes:
                f.write(f"batch_bytes_max = {a.batch_bytes}\n")
        result = {"bytes_per_second_max": limit, "batch_bytes_max": a.batch_bytes or 1 << 20,
                  "loadavg_before": os.getloadavg()}
        for i in range(3):
            self.start_node(i, os.path.join(rundir, "data"), logdir)
        self.start_node(3, os.path.join(rundir, "data"), logdir, config)
        self.wait_members(["n1", "n2", "n3", "n4"])
        time.sleep(a.settle)  # let restart work (compactions, tree loads) finish

        client = ["--workload", "A", "--connections", str(a.connections),
                  "--in-flight", str(a.in_flight)]
        if not a.idle:
            log(f"before: workload A for {a.before:g} s")
            before = self.run_bench(client + ["--duration", str(a.before)],
                                    timeout=a.before + 60)
            result["before"] = summarize(before["phases"][0])
            log(f"before: {fmt_phase(result['before'])}")

        self.ctl(self.addr(0), "node", "join", "n4")
        pids = {n: p.pid for n, p in self.nodes.items()}
        cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items()}
        sched0 = {n: schedstat(pid) for n, pid in pids.items()}
        machine0, tools0 = machine_cpu(), own_and_children_cpu()
        t_commit = time.monotonic()
        committed = self.ctl(self.addr(0), "ring", "commit")
        version = committed["ring_version"]
        during_proc = None
        if not a.idle:
            during_proc = self.procs.start(
                self.bench_cmd(client + ["--duration", str(a.timeout)]), stdout=subprocess.PIPE,
                text=True)
        perf = None
        if a.perf:
            # The receiver only, with DWARF call graphs (Debian's libraries have no frame
            # pointers); a low frequency keeps the data small.
            perf = self.procs.start(["perf", "record", "-F", "99", "--call-graph", "dwarf,16384",
                                     "-o", os.path.join(workdir, f"perf-n4-{limit}.data"),
                                     "-p", str(pids["n4"])],
                                    os.path.join(logdir, "perf.log"))
        log(f"committed ring version {version}" + ("" if a.idle else "; workload A running"))
        samples, timeline = [], {}
        last_line = 0
        while True:
            now = time.monotonic() - t_commit
            if now > a.timeout:
                raise RuntimeError(f"the transition did not finish within {a.timeout} s; "
                                   f"last status: {json.dumps(samples[-1:])}")
            st = self.ctl(self.addr(0), "ring", "status", check=False, timeout=10)
            if st is None or "members" not in st:
                time.sleep(a.poll)
                continue
            n4 = next((x for x in st["nodes"] if x.get("node_id") == "n4"), None)
            ranges = n4.get("transfers", []) if n4 else []
            # n4's own counter outlives the transition (its ranges vanish at the switch).
            own = self.ctl(self.addr(3), "status", check=False, timeout=10)
            try:
                keys = own["nodes"][0]["counters"]["transfer_keys_received"]
            except (TypeError, KeyError, IndexError):
                keys = sum(r["keys"] for r in ranges)
            samples.append({"t": round(now, 3), "keys": keys,
                            "bytes": sum(r["bytes"] for r in ranges),
                            "ranges": [{k: r[k] for k in ("partition", "keys", "bytes", "done",
                                                          "active", "source")} for r in ranges]})
            if keys > 0 and "first_key" not in timeline:
                timeline["first_key"] = now
            for r in ranges:
                if r["done"]:
                    timeline.setdefault(f"range_{r['partition']}_done", now)
            if ranges and all(r["done"] for r in ranges):
                timeline.setdefault("all_done", now)
            members = st["members"]
            switched = (st["transition"] is None and members
                        and all(m["ring_version"] > version for m in members if m["up"])
                        and any(m["id"] == "n4" and m["partitions"] > 0 for m in members))
            if switched:
                timeline["switched"] = now
                break
            if now - last_line >= 5:
                last_line = now
                log(f"  {now:5.1f} s: n4 received {keys:,} keys, "
                    f"{sum(1 for r in ranges if r['done'])}/{len(ranges)} ranges done")
            time.sleep(a.poll)
        cpu1 = {n: cpu_seconds(pid) for n, pid in pids.items()}
        sched1 = {n: schedstat(pid) for n, pid in pids.items()}
        machine1 = machine_cpu()
        if during_proc:
            during_proc.send_signal(signal.SIGUSR1)
            out, _ = during_proc.communicate(timeout=60)
            during = json.loads(out)
            result["during"] = summarize(during["phases"][0])
            log(f"during: {fmt_phase(result['during'])}")
        tools1 = own_and_children_cpu()  # qkv-bench counts once waited for
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)

        status = self.ctl(",".join(self.addr(i) for i in range(4)), "status")
        counters = {s["node_id"]: s["counters"] for s in status["nodes"] if s.get("up")}
        c4 = counters["n4"]
        # The time the last range's last batch arrived: the first sample showing the final
        # key count (ranges are "done" a little later, once their trees are current). After
        # the switch n4 lists no transfers: the final counts are the samples' largest.
        final_keys = max(s["keys"] for s in samples)
        received_at = next(s["t"] for s in samples if s["keys"] >= final_keys)
        first = timeline.get("first_key", 0.0)
        copy_s = max(received_at - first, a.poll)
        per_range = range_stats(samples, a.poll)
        # A range that finished between the last poll listing it and the switch: it ended
        # when the counter reached its final value, holding what the others did not.
        for x in per_range:
            if "done_t" not in x and "first_t" in x:
                seen = x["keys"]
                x["keys"] = c4["transfer_keys_received"] - sum(
                    y["keys"] for y in per_range if y is not x)
                x["bytes"] = x["bytes"] * x["keys"] // max(seen, 1)  # at the size seen so far
                x["last_t"] = received_at
                x["seconds"] = max(x["last_t"] - x["first_t"], a.poll)
                x["mb_per_sec"] = x["bytes"] / 1e6 / x["seconds"]
                x["keys_per_sec"] = x["keys"] / x["seconds"]
                x["end_from_counter"] = True
        moved = {"keys": c4["transfer_keys_received"], "bytes": c4["transfer_bytes_received"],
                 "ranges": c4["transfer_ranges_done"],
                 "source_failures": c4["transfer_source_failures"], "per_range": per_range,
                 "sent_by": {n: {"keys": c["transfer_keys_sent"],
                                 "bytes": c["transfer_bytes_sent"]}
                             for n, c in counters.items() if c["transfer_keys_sent"]}}
        window_s = timeline["switched"]
        elapsed = {"commit_to_first_key": first, "copy": copy_s,
                   "commit_to_received": received_at, "commit_to_done": timeline.get("all_done"),
                   "commit_to_switched": window_s}
        result.update({
            "ring_version": version, "moved": moved, "seconds": elapsed, "timeline": timeline,
            "copy_mb_per_sec": moved["bytes"] / 1e6 / copy_s,
            "copy_keys_per_sec": moved["keys"] / copy_s,
            "overall_mb_per_sec": moved["bytes"] / 1e6 / timeline["switched"],
            "overall_keys_per_sec": moved["keys"] / timeline["switched"],
            "cpu_share_during": {n: (cpu1[n] - cpu0[n]) / window_s
                                 for n in pids if cpu0[n] is not None and cpu1[n] is not None},
            # Each node's io thread over the window: on a CPU, runnable but waiting for one
            # (the machine is busy), and the rest idle (waiting for work: requests, replies).
            "io_thread_during": {n: {"running": (sched1[n][0] - sched0[n][0]) / window_s,
                                     "waiting_for_cpu": (sched1[n][1] - sched0[n][1]) / window_s}
                                 for n in pids if sched0[n] and sched1[n]},
            "samples": samples,
        })
        # The whole machine over the window, in cores: what qkvd, the client tools (qkv-bench,
        # the qkvctl polls, this script) and everything else used.
        busy = (machine1[0] - machine0[0]) / (machine1[1] - machine0[1]) * os.cpu_count()
        qkvd = sum(result["cpu_share_during"].values())
        tools = (tools1 - tools0) / window_s
        result["machine_during"] = {"busy_cores": busy, "qkvd_cores": qkvd,
                                    "client_tools_cores": tools,
                                    "others_cores": max(0.0, busy - qkvd - tools)}
        log(f"moved {moved['keys']:,} keys, {moved['bytes'] / 1e6:.1f} MB: copy "
            f"{copy_s:.1f} s = {result['copy_mb_per_sec']:.1f} MB/s, "
            f"{result['copy_keys_per_sec']:,.0f} keys/s; commit -> switched "
            f"{timeline['switched']:.1f} s")

        if a.verify:
            log("verify: qkvctl repair on n4 (anti-entropy against the other replicas)")
            rep = self.ctl(self.addr(3), "repair", "--node", "n4", "--timeout-s", "120",
                           check=False, timeout=180)
            result["verify"] = rep
            log(f"verify: {json.dumps(rep)[:400]}")
        result["loadavg_after"] = os.getloadavg()
        result["exit_codes"] = self.stop_nodes()
        if not a.keep:
            shutil.rmtree(rundir, ignore_errors=True)
        return result


def range_stats(samples, poll):
    """Per inbound range: keys and bytes, and the polls where its first and last keys showed."""
    out = {}
    for s in samples:
        for r in s["ranges"]:
            x = out.setdefault(r["partition"], {"partition": r["partition"], "keys": 0,
                                                "bytes": 0, "source": r["source"]})
            if r["keys"] > 0 and "first_t" not in x:
                x["first_t"] = s["t"]
            if r["keys"] > x["keys"]:
                x["keys"], x["bytes"], x["last_t"] = r["keys"], r["bytes"], s["t"]
            if r["done"]:
                x.setdefault("done_t", s["t"])
    for x in out.values():
        if "first_t" in x:
            secs = max(x["last_t"] - x["first_t"], poll)  # the resolution of the polls
            x["seconds"] = secs
            x["mb_per_sec"] = x["bytes"] / 1e6 / secs
            x["keys_per_sec"] = x["keys"] / secs
    return sorted(out.values(), key=lambda x: x["partition"])


def summarize(phase):
    ops = phase["ops"]
    out = {"ops_per_sec": phase["ops_per_sec"], "seconds": phase["seconds"],
           "errors": phase["errors"], "error_kinds": phase["error_kinds"],
           "sibling_reads": phase.get("sibling_reads", 0)}
    for op in ("read", "update"):
        if op in ops:
            out[op] = {k: ops[op][k] for k in ("count", "p50_us", "p90_us", "p99_us", "p999_us",
                                               "max_us")}
    return out


def fmt_phase(p):
    parts = [f"{p['ops_per_sec']:.0f} ops/s"]
    for op in ("read", "update"):
        if op in p:
            parts.append(f"{op} p50 {p[op]['p50_us'] / 1000:.2f} ms p99 "
                         f"{p[op]['p99_us'] / 1000:.2f} ms")
    parts.append(f"{p['errors']} errors")
    return ", ".join(parts)


def print_table(results, args, machine):
    print(f"\nownership transfer: 3 -> 4 nodes (N=3, R=W=2, Q={args.partitions}), "
          f"{args.keys:,} keys of {args.value_bytes} B ({args.keys // args.partitions:,} per "
          f"range), batches of {args.batch_bytes or 1 << 20:,} B; client load: "
          + ("none" if args.idle else
             f"workload A, {args.connections} connections x {args.in_flight} in flight")
          + f"; {machine['cores']} cores, load "
          f"{machine['loadavg_start'][0]:.2f} at the start\n")
    head = (f"{'limit':>9} {'before p50/p99 ms (read | update)':>34} "
            f"{'during p50/p99 ms (read | update)':>34} {'ops/s b/d':>13} "
            f"{'copy s':>7} {'switch s':>8} {'keys':>10} {'MB':>7} {'MB/s':>6} {'keys/s':>8}")
    print(head)

    def lat(p):
        if p is None:
            return "- (no client load)"
        return (f"{p['read']['p50_us'] / 1000:.2f}/{p['read']['p99_us'] / 1000:.2f} | "
                f"{p['update']['p50_us'] / 1000:.2f}/{p['update']['p99_us'] / 1000:.2f}")

    for r in results:
        limit = f"{r['bytes_per_second_max'] / MiB:g} MiB/s"
        ops = (f"{r['before']['ops_per_sec']:>6.0f}/{r['during']['ops_per_sec']:<6.0f}"
               if "before" in r else f"{'-':>13}")
        print(f"{limit:>9} {lat(r.get('before')):>34} {lat(r.get('during')):>34} {ops} "
              f"{r['seconds']['copy']:>7.1f} {r['seconds']['commit_to_switched']:>8.1f} "
              f"{r['moved']['keys']:>10,} {r['moved']['bytes'] / 1e6:>7.1f} "
              f"{r['copy_mb_per_sec']:>6.1f} {r['copy_keys_per_sec']:>8,.0f}")
    print("\ncopy s: first key received -> last batch received (throughput = keys, MB over it);"
          "\nswitch s: ring commit -> every member on the new ring (the 'during' window)."
          "\nMB: the receiver's transfer_bytes_received (keys + encoded states), 1 MB = 10^6 B.")
    for r in results:
        t = r["timeline"]
        cpu = ", ".join(f"{n} {v * 100:.0f} %" for n, v in sorted(r["cpu_share_during"].items()))
        done = f"{t['all_done']:.1f} s" if "all_done" in t else "(between two polls)"
        print(f"\n{r['bytes_per_second_max'] / MiB:g} MiB/s: commit -> first key "
              f"{t.get('first_key', 0):.1f} s, -> all received {r['seconds']['commit_to_received']:.1f}"
              f" s, -> all ranges done {done}, -> switched "
              f"{t['switched']:.1f} s; source failures {r['moved']['source_failures']}"
              + (f"; errors before/during {r['before']['errors']}/{r['during']['errors']}"
                 if "before" in r else ""))
        m = r["machine_during"]
        print(f"  machine over the window: {m['busy_cores']:.2f} of {machine['cores']} cores "
              f"busy: qkvd {m['qkvd_cores']:.2f}, qkv-bench + qkvctl polls + this script "
              f"{m['client_tools_cores']:.2f}, other processes {m['others_cores']:.2f}")
        print(f"  CPU (share of one core) over the window: {cpu}")
        io = ", ".join(f"{n} {v['running'] * 100:.0f}/{v['waiting_for_cpu'] * 100:.0f}/"
                       f"{max(0.0, 1 - v['running'] - v['waiting_for_cpu']) * 100:.0f} %"
                       for n, v in sorted(r["io_thread_during"].items()))
        print(f"  io thread running/waiting for a CPU/idle: {io}")
        print(f"  sent by: {r['moved']['sent_by']}")
        for x in r["moved"]["per_range"]:
            if "seconds" in x:
                print(f"  range {x['partition']} from {x['source']}: {x['keys']:,} keys, "
                      f"{x['bytes'] / 1e6:.1f} MB, received {x['first_t']:.1f} -> "
                      f"{x['last_t']:.1f} s = {x['mb_per_sec']:.1f} MB/s, "
                      f"{x['keys_per_sec']:,.0f} keys/s; "
                      + (f"done at {x['done_t']:.1f} s" if "done_t" in x else
                         "its last batch between polls (end from n4's counter)"))
        if "verify" in r:
            v = r["verify"]
            print(f"  verify (qkvctl repair on n4): {json.dumps(v)[:300]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--keys", type=int, default=4_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--limits", default=f"{32 * MiB},{1 << 30}",
                        help="comma-separated transfer.bytes_per_second_max of the receiver, "
                             "one transfer each (default: 32 MiB/s, the default, and 1 GiB/s)")
    parser.add_argument("--batch-bytes", type=int, default=0,
                        help="the receiver's transfer.batch_bytes_max (default: qkvd's, 1 MiB)")
    parser.add_argument("--before", type=float, default=20, help="seconds of the 'before' run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--load-connections", type=int, default=32)
    parser.add_argument("--load-in-flight", type=int, default=8)
    parser.add_argument("--load-timeout", type=float, default=600)
    parser.add_argument("--timeout", type=float, default=300,
                        help="give up on a transition after this many seconds")
    parser.add_argument("--settle", type=float, default=5,
                        help="seconds between the nodes' start and the 'before' run")
    parser.add_argument("--poll", type=float, default=0.5,
                        help="seconds between `qkvctl ring status` polls")
    parser.add_argument("--idle", action="store_true",
                        help="no client load: the transfer alone (no before/during latencies)")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--perf", action="store_true",
                        help="perf record the receiver (n4) during each transfer, DWARF call "
                             "graphs, into the work directory (use with --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--workdir", default=None, help="parent of the temporary directory")
    parser.add_argument("--snapshot", help="keep the loaded data here and reuse it next time "
                        "(the load is most of the runtime); each transfer starts from a copy")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    for binary in ("node/qkvd", "client/qkvctl", "bench/qkv-bench"):
        if not os.access(os.path.join(args.build, binary), os.X_OK):
            sys.exit(f"transfer: {args.build}/{binary} is missing: run scripts/build first")
    limits = [int(x) for x in args.limits.split(",") if x]
    machine = {"cores": os.cpu_count(), "loadavg_start": os.getloadavg()}
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="qkv-transfer-", dir=args.workdir)
    shape = {"keys": args.keys, "value_bytes": args.value_bytes, "partitions": args.partitions}
    meta = None
    if args.snapshot:
        try:
            with open(os.path.join(args.snapshot, "meta.json")) as f:
                meta = json.load(f)
        except OSError:
            if os.path.exists(args.snapshot) and os.listdir(args.snapshot):
                sys.exit(f"transfer: --snapshot {args.snapshot} is not empty and holds no "
                         "meta.json")
        if meta and meta["shape"] != shape:
            sys.exit(f"transfer: --snapshot {args.snapshot} holds {meta['shape']}, not {shape}")
    bench = Bench(args, meta["ports"] if meta else None)
    snapshot = args.snapshot or os.path.join(workdir, "snapshot")
    log(f"work directory {workdir}; load average {machine['loadavg_start']}")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    results = []
    try:
        if meta:
            load = meta["load"]
            log(f"reusing the loaded snapshot {snapshot} (loaded at {load['puts_per_sec']:.0f} "
                "puts/s)")
        else:
            loadlogs = os.path.join(workdir, "load-logs")
            os.makedirs(loadlogs)
            load = bench.load(snapshot, loadlogs)
            if args.snapshot:
                with open(os.path.join(snapshot, "meta.json"), "w") as f:
                    json.dump({"shape": shape, "load": load,
                               "ports": {"client": bench.client[:3], "peer": bench.peer[:3]}},
                              f)
        for limit in limits:
            results.append(bench.transfer(snapshot, workdir, limit))
    except BaseException as e:
        log(f"failed: {e!r}; logs in {workdir} (kept)")
        bench.procs.stop_all()
        raise
    finally:
        bench.procs.stop_all()
    machine["loadavg_end"] = os.getloadavg()
    machine["runtime_s"] = time.monotonic() - started
    print_table(results, args, machine)
    print(f"\nload phase: {load['puts_per_sec']:,.0f} puts/s; total runtime "
          f"{machine['runtime_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": machine, "load": load,
                       "runs": results}, f, indent=2)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    errors = sum(r["before"]["errors"] + r["during"]["errors"] for r in results if "before" in r)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
