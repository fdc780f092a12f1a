// tests/blackbox/scenarios.json against the TypeScript client, on a real 3-node qkvd cluster
// (QKVD_PATH; ctest sets it): the same put/get/siblings/delete/limits scenarios the C++ SDK
// and the HTTP API pass (issue 18).
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

  for (const scenario of loadScenarios().scenarios) {
    test(scenario.name, { timeout: 30_000 }, () => runScenario(adapterOf(client), scenario, runId));
  }
});
