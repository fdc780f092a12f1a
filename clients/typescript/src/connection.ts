// One connection to a node's client port (TCP, or TLS with node:tls): requests are pipelined
// (several in flight, answers matched by request id; proto/client.capnp) and each has its own
// deadline. A connection that breaks fails everything in flight on it and is never reused.

import * as net from "node:net";
import * as tls from "node:tls";

import { QkvError } from "./errors.js";
import { FrameReader } from "./framing.js";
import { decodeAnswer, encodeRequest } from "./codec.js";
import type { Answer, Op } from "./codec.js";

/** TLS to the client ports (docs/security.md): PEM contents, as node:tls takes them. */
export interface TlsOptions {
  /** The cluster CA the node's certificate must chain to; absent: Node's default CAs. */
  ca?: string | Buffer;
  /** A client certificate and its key, for nodes with [tls] client_auth = "require". */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The lowest TLS version accepted; default "TLSv1.3" (as the C++ SDK). */
  minVersion?: tls.SecureVersion;
}

export interface Credentials {
  user: string;
  secret: string;
}

export interface ConnectionOptions {
  connectTimeoutMs: number;
  frameBytesMax: number;
  tls?: TlsOptions;
  credentials?: Credentials;
}

/**
 * Why an attempt on a node failed without the node's answer. `sent` says whether any byte of
 * the request may have reached the node: a write moves to another node only when it was not.
 */
export class AttemptError extends Error {
  constructor(
    readonly kind: "connect" | "broken" | "timeout",
    readonly sent: boolean,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** "host:port" or "[v6addr]:port". Throws invalid_argument on anything else. */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : 0;
  if (!match || port < 1 || port > 65535) {
    throw new QkvError(
      "invalid_argument",
      `node address ${JSON.stringify(address)} is not host:port`,
    );
  }
  return { host: (match[1] ?? match[2])!, port };
}

export class Connection {
  private readonly pending = new Map<number, Pending>();
  private readonly reader: FrameReader;
  private nextRequestId = 1;
  private failure: AttemptError | undefined;

  private constructor(
    readonly address: string,
    private readonly socket: net.Socket,
    frameBytesMax: number,
  ) {
    this.reader = new FrameReader(frameBytesMax);
    socket.setNoDelay(true);
    // An idle connection does not keep the process alive (a script may end without close());
    // one with requests in flight does, until they are answered or time out.
    socket.unref();
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.fail(`connection to ${address} broke: ${e.message}`));
    socket.on("close", () => this.fail(`connection to ${address} was closed by the node`));
  }

  /**
   * Connects (and authenticates with `credentials`, before any other request). Rejects with
   * AttemptError "connect" (nothing sent) when the node cannot be reached in
   * connectTimeoutMs, or with the node's QkvError when it refuses the credentials.
   */
  static async open(address: string, options: ConnectionOptions): Promise<Connection> {
    const { host, port } = parseAddress(address);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = options.tls
        ? tls.connect({
            host,
            port,
            ca: options.tls.ca,
            cert: options.tls.cert,
            key: options.tls.key,
            minVersion: options.tls.minVersion ?? "TLSv1.3",
            servername: net.isIP(host) ? undefined : host,
          })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new AttemptError(
            "connect",
            false,
            `${address}: no connection in ${options.connectTimeoutMs} ms`,
          ),
        );
      }, options.connectTimeoutMs);
      s.once(options.tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(new AttemptError("connect", false, `${address}: ${e.message}`));
      });
    });
    const connection = new Connection(address, socket, options.frameBytesMax);
    if (options.credentials) {
      const { user, secret } = options.credentials;
      let answer: Answer;
      try {
        answer = await connection.request(
          { kind: "authenticate", user, secret },
          options.connectTimeoutMs,
          options.connectTimeoutMs,
        );
      } catch (e) {
        connection.close();
        // Only the authentication was sent: the caller's request was not.
        if (e instanceof AttemptError) throw new AttemptError("connect", false, e.message);
        throw e;
      }
      if (answer.code !== "ok") {
        connection.close();
        throw new QkvError(answer.code, answer.message);
      }
    }
    return connection;
  }

  /** Requests sent and not yet answered or timed out. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** True once the connection broke or was closed: it takes no more requests. */
  get broken(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Sends `op` and resolves with the node's answer (ok or not). `serverTimeoutMs` is what the
   * node is told; the answer must arrive within `timeoutMs`, else AttemptError "timeout"
   * (the late answer is dropped). AttemptError "broken" when the connection fails first.
   * Throws invalid_argument naming frame_bytes_max, before sending, for an oversized request.
   */
  request(
    op: Op,
    serverTimeoutMs: number,
    timeoutMs: number,
    frameBytesMax = Infinity,
  ): Promise<Answer> {
    if (this.failure)
      return Promise.reject(new AttemptError("broken", false, this.failure.message));
    const requestId = this.nextRequestId++;
    const frame = encodeRequest(requestId, serverTimeoutMs, op);
    if (frame.length > frameBytesMax) {
      return Promise.reject(
        new QkvError(
          "invalid_argument",
          `request frame is ${frame.length} bytes; frame_bytes_max is ${frameBytesMax}`,
        ),
      );
    }
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.forget(requestId);
        reject(new AttemptError("timeout", true, `${this.address}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      if (this.pending.size === 0) this.socket.ref();
      this.pending.set(requestId, { resolve, reject, timer });
      // Corked until the next tick, so requests issued together leave in one write.
      if (!this.socket.writableCorked) {
        this.socket.cork();
        process.nextTick(() => this.socket.uncork());
      }
      this.socket.write(frame);
    });
  }

  /** Closes the connection; requests in flight fail as broken. */
  close(): void {
    this.fail(`connection to ${this.address} was closed by the client`);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    try {
      for (let frame = this.reader.next(); frame; frame = this.reader.next()) {
        this.dispatch(decodeAnswer(frame));
      }
    } catch (e) {
      this.fail(`${this.address} sent an unreadable answer: ${(e as Error).message}`);
      this.socket.destroy();
    }
  }

  private dispatch(answer: Answer): void {
    if (answer.requestId === 0) {
      // The node could not read a request (malformed, or over its frame_bytes_max) and closes.
      const error = new QkvError(answer.code === "ok" ? "corruption" : answer.code, answer.message);
      for (const p of this.takeAll()) p.reject(error);
      this.fail(`${this.address} could not read a request: ${answer.message}`);
      return;
    }
    const p = this.pending.get(answer.requestId);
    if (!p) return; // the answer to a request that timed out
    this.forget(answer.requestId);
    clearTimeout(p.timer);
    p.resolve(answer);
  }

  private forget(requestId: number): void {
    this.pending.delete(requestId);
    if (this.pending.size === 0) this.socket.unref();
  }

  private takeAll(): Pending[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) clearTimeout(p.timer);
    return all;
  }

  private fail(message: string): void {
    if (!this.failure) this.failure = new AttemptError("broken", true, message);
    for (const p of this.takeAll()) p.reject(new AttemptError("broken", true, message));
  }
}
