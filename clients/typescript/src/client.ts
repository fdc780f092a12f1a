// The qkv client for Node.js: get/put/delete over the native protocol (proto/client.capnp)
// to any node of a static list, with per-node connection pools, pipelining and failover.
//
// Causal contexts (docs/architecture.md): a get answers the key's live siblings and an opaque
// causal context. Pass that context back on the next put/delete of the key: the write then
// supersedes exactly the siblings the context covers. A put without a context is concurrent
// with everything stored and adds a sibling.
//
// Failover (as the C++ SDK, client/client.h): nodes are tried one after the other, starting
// from a rotating one (nodes that just failed to connect last). A get moves to the next node
// when connecting fails, the connection breaks or no answer arrives in time: reads are safe
// to repeat. A put or delete moves on ONLY when it was certainly never sent (connecting
// failed); once sent, a broken connection is `unavailable` and a missed deadline `timeout`,
// and the write is not retried: the node may have applied it, and a second write with the
// same context would add a duplicate sibling. Read the key to learn the outcome. An answer
// from a node is final, except `overloaded`: the node refused the request before doing
// anything, so any call moves to the next node, and when every node refused, backs off
// (10 to 250 ms, jittered, doubling) and tries again until its timeoutMs has passed.

import { AttemptError, parseAddress } from "./connection.js";
import type { Credentials, TlsOptions } from "./connection.js";
import type { Answer, Op, ReadFanout, WriteCondition } from "./codec.js";
import { QkvError } from "./errors.js";
import { checkContext, checkKey, checkValue, defaultLimits } from "./limits.js";
import type { Limits } from "./limits.js";
import { NodePool } from "./pool.js";

export type Bytes = string | Uint8Array;

export interface ClientOptions {
  /** "host:port" (or "[v6addr]:port") of the nodes' client ports. */
  nodes: string[];
  /** Per node attempt: sending a request and receiving its answer; default 5000 ms. */
  timeoutMs?: number;
  /** Per node attempt: opening a connection (and TLS, authentication); default 1000 ms. */
  connectTimeoutMs?: number;
  /** Connections per node, each with any number of requests in flight; default 4. */
  poolSize?: number;
  /** Set: every connection speaks TLS, verified against tls.ca. */
  tls?: TlsOptions;
  /** Set: every connection authenticates as this user before its first request. */
  credentials?: Credentials;
  /** Checked before sending (defaults mirror common/limits.h). */
  limits?: Partial<Limits>;
}

export interface GetOptions {
  /** Read quorum; 0 or absent: the node's default. */
  r?: number;
  /** Primaries required (Riak's PR); 0 or absent: none. */
  pr?: number;
  /** Whom the get asks first: "all" primaries, or "quorum", max(r, pr) of them, another only
   * if one fails or is slow (Cassandra's reads); absent: the node's read_fanout. */
  fanout?: ReadFanout;
  /** Overrides ClientOptions.timeoutMs for this call. */
  timeoutMs?: number;
}

export interface WriteOptions {
  /** The causal context of an earlier get or write of this key; absent: none (a blind write). */
  context?: Uint8Array;
  /** Write quorum; 0 or absent: the node's default. */
  w?: number;
  /** false: W counts primaries only (Riak's PW). Default true (sloppy quorum). */
  sloppy?: boolean;
  /** "ifAbsent": only if the key has no live value; "ifUnchanged": only if `context` covers
   * every sibling the key holds. Refused with precondition_failed, nothing written. */
  condition?: WriteCondition;
  timeoutMs?: number;
}

export interface PutOptions extends WriteOptions {
  /** The value expires this long after the write; 0 or absent: never. */
  ttlSeconds?: number;
}

export interface Sibling {
  /** The value; empty for a tombstone. */
  value: Buffer;
  /** A delete concurrent with the values. */
  tombstone: boolean;
  /** The coordinator's unix ms when it wrote the sibling; 0: unknown. */
  timestampMs: number;
  /** The node that coordinated the write. */
  node: string;
  /** Unix ms its time to live ends; 0: never. */
  expiresMs: number;
}

export interface GetResult {
  /** The live siblings' values; empty when the key is missing, deleted or expired. */
  values: Buffer[];
  /** Opaque: pass to the next put/delete of the key (also when not found). */
  context: Buffer;
  /** Every sibling: the values (in `values` order), then concurrent tombstones. */
  siblings: Sibling[];
  /** The replicas whose answers the result joins. */
  replicas: { node: string; fallback: boolean }[];
  found: boolean;
}

export interface WriteResult {
  /** The causal context of what was written: a later write with it supersedes it. */
  context: Buffer;
}

const kBackoffMinMs = 10;
const kBackoffMaxMs = 250;
const kServerMarginMaxMs = 100;
// A node that refused a connection is tried after the others for this long (ms).
const kConnectFailureCooldownMs = 1000;

/** The node's budget for a client budget of timeoutMs: a margin less, so it answers first. */
export function serverTimeoutMs(timeoutMs: number): number {
  return Math.max(1, timeoutMs - Math.min(kServerMarginMaxMs, Math.floor(timeoutMs / 10)));
}

function bytesOf(b: Bytes | undefined): Uint8Array {
  if (b === undefined) return new Uint8Array(0);
  return typeof b === "string" ? Buffer.from(b, "utf8") : b;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Client {
  private readonly pools: NodePool[];
  private readonly limits: Limits;
  private readonly timeoutMs: number;
  private next = 0;
  private closed = false;

  /** Does not connect: connections open on first use. */
  constructor(options: ClientOptions) {
    if (!options.nodes || options.nodes.length === 0) {
      throw new QkvError(
        "invalid_argument",
        "ClientOptions.nodes is empty: name at least one node",
      );
    }
    for (const address of options.nodes) parseAddress(address);
    for (const name of ["timeoutMs", "connectTimeoutMs", "poolSize"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new QkvError(
          "invalid_argument",
          `ClientOptions.${name} is ${value}: a positive integer`,
        );
      }
    }
    this.limits = { ...defaultLimits, ...options.limits };
    this.timeoutMs = options.timeoutMs ?? 5000;
    const connection = {
      connectTimeoutMs: options.connectTimeoutMs ?? 1000,
      frameBytesMax: this.limits.frameBytesMax,
      tls: options.tls,
      credentials: options.credentials,
    };
    this.pools = options.nodes.map(
      (a) => new NodePool(a, Math.max(1, options.poolSize ?? 4), connection),
    );
  }

  async get(key: Bytes, options: GetOptions = {}): Promise<GetResult> {
    const k = bytesOf(key);
    checkKey(this.limits, k.length);
    const op: Op = {
      kind: "get",
      key: k,
      r: options.r ?? 0,
      pr: options.pr ?? 0,
      fanout: options.fanout,
    };
    const answer = await this.call(op, options.timeoutMs);
    const body = answer.get;
    if (answer.code === "not_found" || (answer.code === "ok" && body)) {
      const values = body?.values ?? [];
      const meta = body?.siblings ?? [];
      const siblings: Sibling[] = values.map((value, i) => ({
        value,
        tombstone: false,
        timestampMs: meta[i]?.timestampMs ?? 0,
        node: meta[i]?.node ?? "",
        expiresMs: meta[i]?.expiresMs ?? 0,
      }));
      for (const m of meta.slice(values.length)) siblings.push({ value: Buffer.alloc(0), ...m });
      return {
        values,
        context: body?.context ?? Buffer.alloc(0),
        siblings,
        replicas: body?.replicas ?? [],
        found: values.length > 0,
      };
    }
    throw this.errorOf(answer, "get");
  }

  async put(key: Bytes, value: Bytes, options: PutOptions = {}): Promise<WriteResult> {
    const k = bytesOf(key);
    const v = bytesOf(value);
    const context = options.context ?? new Uint8Array(0);
    checkKey(this.limits, k.length);
    checkValue(this.limits, v.length);
    checkContext(this.limits, context.length);
    const op: Op = {
      kind: "put",
      key: k,
      value: v,
      context,
      w: options.w ?? 0,
      primariesOnly: options.sloppy === false,
      ttlSeconds: options.ttlSeconds ?? 0,
      condition: options.condition,
    };
    return this.written(await this.call(op, options.timeoutMs), "put");
  }

  async delete(key: Bytes, options: WriteOptions = {}): Promise<WriteResult> {
    const k = bytesOf(key);
    const context = options.context ?? new Uint8Array(0);
    checkKey(this.limits, k.length);
    checkContext(this.limits, context.length);
    const op: Op = {
      kind: "delete",
      key: k,
      context,
      w: options.w ?? 0,
      primariesOnly: options.sloppy === false,
      condition: options.condition,
    };
    return this.written(await this.call(op, options.timeoutMs), "delete");
  }

  /**
   * Node `index`'s ring version (0: it holds no ring yet), asked of that node only. For tools
   * and tests that wait for a cluster to form.
   */
  async ringVersion(index: number, timeoutMs?: number): Promise<number> {
    const pool = this.pools[index];
    if (!pool)
      throw new QkvError(
        "invalid_argument",
        `no node ${index}: the client has ${this.pools.length}`,
      );
    const answer = await this.attempt(pool, { kind: "nodeStatus" }, timeoutMs ?? this.timeoutMs);
    if (answer.code !== "ok") throw this.errorOf(answer, "nodeStatus");
    return answer.ringVersion ?? 0;
  }

  /** Closes every connection; calls in flight fail with unavailable, later calls too. */
  close(): void {
    this.closed = true;
    for (const pool of this.pools) pool.close();
  }

  private written(answer: Answer, what: string): WriteResult {
    if (answer.code !== "ok") throw this.errorOf(answer, what);
    return { context: answer.context ?? Buffer.alloc(0) };
  }

  private errorOf(answer: Answer, what: string): QkvError {
    if (answer.code === "ok")
      return new QkvError("corruption", `the node's answer to a ${what} has no ${what} body`);
    return new QkvError(answer.code, answer.message);
  }

  // The nodes in the order this call tries them: rotating, nodes that just failed last.
  private order(): NodePool[] {
    const start = this.next++ % this.pools.length;
    const rotated = [...this.pools.slice(start), ...this.pools.slice(0, start)];
    const now = Date.now();
    return [
      ...rotated.filter((p) => p.downUntilMs <= now),
      ...rotated.filter((p) => p.downUntilMs > now),
    ];
  }

  private async attempt(pool: NodePool, op: Op, timeoutMs: number): Promise<Answer> {
    const connection = await pool.acquire();
    return connection.request(op, serverTimeoutMs(timeoutMs), timeoutMs, this.limits.frameBytesMax);
  }

  // One call with failover and overload backoff (the contract at the top of this file).
  private async call(op: Op, callTimeoutMs: number | undefined): Promise<Answer> {
    const timeoutMs = callTimeoutMs && callTimeoutMs > 0 ? callTimeoutMs : this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const isRead = op.kind === "get";
    let backoffMs = kBackoffMinMs;
    for (let round = 0; ; ++round) {
      const failures: string[] = [];
      let overloaded: Answer | undefined;
      for (const pool of this.order()) {
        if (this.closed) throw new QkvError("unavailable", "the client was closed");
        // Retries after overloaded answers share what is left of the call's timeoutMs.
        const budget = round === 0 && !overloaded ? timeoutMs : Math.max(1, deadline - Date.now());
        try {
          const answer = await this.attempt(pool, op, budget);
          if (answer.code !== "overloaded") return answer;
          overloaded = answer;
          failures.push(`${pool.address}: ${answer.message}`);
        } catch (e) {
          if (!(e instanceof AttemptError)) throw e;
          if (e.kind === "connect") pool.downUntilMs = Date.now() + kConnectFailureCooldownMs;
          if (e.sent && !isRead) {
            throw new QkvError(
              e.kind === "timeout" ? "timeout" : "unavailable",
              `${e.message}; the ${op.kind} was sent and may have been applied: read the key to find out`,
            );
          }
          failures.push(e.message);
        }
      }
      if (!overloaded || Date.now() + backoffMs >= deadline) {
        if (overloaded)
          throw new QkvError(
            "overloaded",
            `every node refused as overloaded: ${failures.join("; ")}`,
          );
        throw new QkvError(
          "unavailable",
          `no node answered the ${op.kind}: ${failures.join("; ")}`,
        );
      }
      await sleep(backoffMs / 2 + Math.random() * (backoffMs / 2));
      backoffMs = Math.min(kBackoffMaxMs, backoffMs * 2);
    }
  }
}
