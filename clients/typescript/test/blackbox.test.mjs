// tests/blackbox/scenarios.json against the TypeScript client, on a real 3-node qkvd cluster
// (QKVD_PATH; ctest sets it): the same put/get/siblings/delete/limits scenarios the C++ SDK
// and the HTTP API pass (issue 18).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client } from "../dist/src/index.js";
import { ProcessCluster } from "../../../tests/blackbox/process_cluster.mjs";
import { loadScenarios, newRunId, runScenario } from "../../../tests/blackbox/scenarios.mjs";

const conditions = { if_absent: "ifAbsent", if_unchanged: "ifUnchanged" };

// The scenario interpreter's adapter (tests/blackbox/scenarios.mjs) over a Client.
function adapterOf(client) {
  const writeOptions = ({ context, condition }) => ({ context, condition: conditions[condition] });
  return {
    put: (key, value, options) => client.put(key, value, writeOptions(options)),
    get: (key) => client.get(key),
    delete: (key, options) => client.delete(key, writeOptions(options)),
  };
}

describe("black-box scenarios over the TypeScript client", { timeout: 120_000 }, () => {
  const cluster = new ProcessCluster(3);
  let client;
  const runId = newRunId();

  before(async () => {
    await cluster.start();
    client = new Client({ nodes: cluster.clientAddresses(), timeoutMs: 5000, poolSize: 2 });
  });
  after(() => {
    client?.close();
    cluster.stop();
  });

  test("siblings carry their write time and coordinator", { timeout: 10_000 }, async () => {
    const key = `${runId}/metadata`;
    await client.put(key, "a");
    await client.put(key, "b", { ttlSeconds: 3600 });
    const { siblings } = await client.get(key);
    assert.deepEqual(siblings.map((s) => String(s.value)).sort(), ["a", "b"]);
    for (const s of siblings) {
      assert.equal(s.tombstone, false);
      assert.ok(Math.abs(s.timestampMs - Date.now()) < 60_000, `timestampMs ${s.timestampMs}`);
      assert.match(s.node, /^n[123]$/);
      const ttl = String(s.value) === "b" ? s.expiresMs - s.timestampMs : s.expiresMs;
      assert.ok(
        String(s.value) === "b" ? Math.abs(ttl - 3_600_000) < 1000 : ttl === 0,
        `expiresMs ${s.expiresMs}`,
      );
    }
  });

  for (const scenario of loadScenarios().scenarios) {
    test(scenario.name, { timeout: 30_000 }, () => runScenario(adapterOf(client), scenario, runId));
  }
});
