// Up to poolSize pipelined connections to one node. A request takes the connection with the
// fewest requests in flight; a new connection opens only while every open one is busy and
// the pool is not full. Broken connections leave the pool at once.

import { AttemptError, Connection } from "./connection.js";
import type { ConnectionOptions } from "./connection.js";

export class NodePool {
  private readonly connections: Connection[] = [];
  private opening: Promise<Connection> | undefined;
  private closed = false;
  /** Until this time (ms, Date.now()) the node counts as unreachable: tried after the others. */
  downUntilMs = 0;

  constructor(
    readonly address: string,
    private readonly poolSize: number,
    private readonly options: ConnectionOptions,
  ) {}

  /**
   * A connection to send on: an idle or least busy one, or a new one. Rejects as
   * Connection.open does (AttemptError "connect": nothing was sent).
   */
  async acquire(): Promise<Connection> {
    this.prune();
    const best = this.connections.reduce<Connection | undefined>(
      (a, c) => (a === undefined || c.inFlight < a.inFlight ? c : a),
      undefined,
    );
    if (best && (best.inFlight === 0 || this.connections.length >= this.poolSize)) return best;
    // One connection opens at a time; callers meanwhile share it (or a busy one).
    if (this.opening) return best ?? this.opening;
    this.opening = Connection.open(this.address, this.options);
    try {
      const connection = await this.opening;
      if (this.closed) {
        connection.close();
        throw new AttemptError("connect", false, `${this.address}: the client was closed`);
      }
      this.connections.push(connection);
      return connection;
    } finally {
      this.opening = undefined;
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections) c.close();
    this.connections.length = 0;
  }

  private prune(): void {
    for (let i = this.connections.length - 1; i >= 0; --i) {
      if (this.connections[i]!.broken) this.connections.splice(i, 1);
    }
  }
}
