// Real qkvd processes on 127.0.0.1 for the JavaScript black-box tests (the counterpart of
// tests/integration/process_cluster.h): a 3-node cluster (N=3, R=W=2, Q=64) with its data in
// a fresh temp dir, ports below 32768 checked free, every wait bounded by a deadline. stop()
// SIGKILLs every node and removes the data; it is also run on process exit, so a failing or
// interrupted test leaves no qkvd behind.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set();
process.on("exit", () => {
  for (const cluster of live) cluster.stop();
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130));
}

function portFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

// Below the ephemeral range; spread by pid so parallel tests rarely collide.
let nextPort = 20000 + ((process.pid * 7) % 600) * 20;
async function freePort() {
  for (let tries = 0; tries < 10000; ++tries) {
    const port = nextPort++;
    if (nextPort >= 32000) nextPort = 20000;
    if (await portFree(port)) return port;
  }
  throw new Error("no free port below 32768");
}

/** Polls `done` (async) every 50 ms until it returns true or `deadlineMs` passes. */
export async function waitFor(done, deadlineMs) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await done().catch(() => false)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 50)); // the polling interval only
  }
}

export class ProcessCluster {
  /**
   * `qkvd`: the binary's path (ctest passes it; else $QKVD_PATH). `extraFlags`: more qkvd
   * flags for every node.
   */
  constructor(
    size = 3,
    { qkvd = process.env.QKVD_PATH, extraFlags = [] } = {},
  ) {
    if (!qkvd) throw new Error("no qkvd: set QKVD_PATH to build/node/qkvd");
    this.qkvd = qkvd;
    this.size = size;
    this.extraFlags = extraFlags;
    this.dir = mkdtempSync(join(tmpdir(), "qkv-blackbox-"));
    this.procs = [];
    this.clientPorts = [];
    this.peerPorts = [];
    this.httpPorts = [];
  }

  id(i) {
    return `n${i + 1}`;
  }
  clientAddress(i) {
    return `127.0.0.1:${this.clientPorts[i]}`;
  }
  httpAddress(i) {
    return `127.0.0.1:${this.httpPorts[i]}`;
  }
  clientAddresses() {
    return this.clientPorts.map((_, i) => this.clientAddress(i));
  }
  log(i) {
    try {
      return readFileSync(join(this.dir, `${this.id(i)}.log`), "utf8");
    } catch {
      return "";
    }
  }

  /**
   * Starts every node, then waits (at most deadlineMs) until each is ready: it holds the ring.
   * `ready(i)` decides it (default: GET /health/ready answers 200 over plain HTTP).
   */
  async start(deadlineMs = 30000, ready = (i) => this.httpReady(i)) {
    live.add(this);
    for (let i = 0; i < this.size; ++i) {
      this.clientPorts.push(await freePort());
      this.peerPorts.push(await freePort());
      this.httpPorts.push(await freePort());
    }
    const members = this.peerPorts
      .map((p, j) => `${this.id(j)}=127.0.0.1:${p}`)
      .join(",");
    for (let i = 0; i < this.size; ++i) this.launch(i, members);
    for (let i = 0; i < this.size; ++i) {
      if (!(await waitFor(() => ready(i), deadlineMs))) {
        throw new Error(`qkvd ${this.id(i)} is not ready:\n${this.log(i)}`);
      }
    }
  }

  // /health/ready answers 200 once the node holds a ring and serves (docs/operations.md).
  async httpReady(i) {
    const response = await fetch(`http://${this.httpAddress(i)}/health/ready`);
    await response.arrayBuffer();
    return response.status === 200;
  }

  launch(i, members) {
    const log = openSync(join(this.dir, `${this.id(i)}.log`), "a");
    const args = [
      "--node-id",
      this.id(i),
      "--data-dir",
      join(this.dir, this.id(i)),
      "--client-listen",
      this.clientAddress(i),
      "--peer-listen",
      `127.0.0.1:${this.peerPorts[i]}`,
      "--http-listen",
      this.httpAddress(i),
      "--partitions",
      "64",
      "--members",
      members,
      ...this.extraFlags,
    ];
    this.procs[i] = spawn(this.qkvd, args, { stdio: ["ignore", log, log] });
  }

  /** SIGKILLs node i (no-op if it is not running). */
  kill(i) {
    const proc = this.procs[i];
    if (proc && proc.exitCode === null && proc.signalCode === null)
      proc.kill("SIGKILL");
    this.procs[i] = undefined;
  }

  /** SIGKILLs node i and resolves once it has exited (its ports are closed then). */
  async killAndWait(i) {
    const proc = this.procs[i];
    if (!proc) return;
    const exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once("exit", resolve);
    });
    this.kill(i);
    await exited;
  }

  /** SIGKILLs every node and removes the data directory. Synchronous: safe in an exit hook. */
  stop() {
    for (let i = 0; i < this.procs.length; ++i) this.kill(i);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}
