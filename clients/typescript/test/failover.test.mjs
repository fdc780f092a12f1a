// Failover against a real 3-node qkvd cluster (N=3, R=W=2): with one node SIGKILLed the client
// keeps serving every get and put from the other two, both on pooled connections that broke
// and from a fresh client that lists the dead node first.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client } from "../dist/src/index.js";
import { ProcessCluster } from "../../../tests/blackbox/process_cluster.mjs";
import { newRunId } from "../../../tests/blackbox/scenarios.mjs";

describe("failover", { timeout: 120_000 }, () => {
  const cluster = new ProcessCluster(3);
  const runId = newRunId();
  const clients = [];
  const clientOf = () => {
    const c = new Client({ nodes: cluster.clientAddresses(), timeoutMs: 3000, poolSize: 2 });
    clients.push(c);
    return c;
  };
  const key = (i) => `${runId}/failover/${i}`;

  before(() => cluster.start());
  after(() => {
    for (const c of clients) c.close();
    cluster.stop();
  });

  test("a killed node's gets and puts are served by the others", { timeout: 60_000 }, async () => {
    const client = clientOf();
    // Every node gets requests (calls start at a rotating node), so each has pooled connections.
    for (let i = 0; i < 12; ++i) await client.put(key(i), `v${i}`);
    await cluster.killAndWait(0);
    for (let i = 0; i < 12; ++i) {
      assert.deepEqual((await client.get(key(i))).values.map(String), [`v${i}`], key(i));
    }
    for (let i = 12; i < 24; ++i) await client.put(key(i), `v${i}`);

    const fresh = clientOf(); // its first call starts at the dead node: connect refused, next
    await fresh.put(key(24), "v24");
    for (let i = 0; i < 25; ++i) {
      assert.deepEqual((await fresh.get(key(i))).values.map(String), [`v${i}`], key(i));
    }
  });
});
