// The client's behaviour against fake nodes (fake_node.mjs): local limits, pipelining over a
// pool, failover of reads, no retry of writes once sent, overload backoff, typed errors.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, QkvError } from "../dist/src/index.js";
import { closedAddress, fakeNode, okHandler } from "./fake_node.mjs";

// Runs `body(client, nodes)` with fake nodes of the given handlers, then closes everything.
async function withNodes(handlers, options, body) {
  const nodes = await Promise.all(
    handlers.map((h) => (typeof h === "string" ? { address: h, stats: {} } : fakeNode(h))),
  );
  const client = new Client({
    nodes: nodes.map((n) => n.address),
    timeoutMs: 1000,
    connectTimeoutMs: 500,
    ...options,
  });
  try {
    await body(client, nodes);
  } finally {
    client.close();
    await Promise.all(nodes.map((n) => n.close?.()));
  }
}

const rejectsWith = (promise, code, pattern) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof QkvError, `a QkvError, not ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });

test(
  "keys and values over their limits are refused before anything is sent",
  { timeout: 10_000 },
  async () => {
    await withNodes([okHandler()], {}, async (client, [node]) => {
      await rejectsWith(
        client.put("k".repeat(65537), "v"),
        "invalid_argument",
        /key is 65537 bytes; key_bytes_max is 65536/,
      );
      await rejectsWith(client.get(""), "invalid_argument", /key is empty/);
      await rejectsWith(
        client.put("k", Buffer.alloc(16 * 1024 * 1024 + 1)),
        "invalid_argument",
        /value_bytes_max is 16777216/,
      );
      await rejectsWith(
        client.delete("k", { context: Buffer.alloc(65537) }),
        "invalid_argument",
        /context_bytes_max/,
      );
      assert.equal(node.stats.connections, 0);
    });
    await withNodes([okHandler()], { limits: { valueBytesMax: 10 } }, async (client) => {
      await rejectsWith(
        client.put("k", "01234567890"),
        "invalid_argument",
        /value is 11 bytes; value_bytes_max is 10/,
      );
    });
  },
);

test(
  "requests are pipelined on one connection and matched by request id",
  { timeout: 10_000 },
  async () => {
    // The node answers each batch of 20 in reverse order, each get with its own key as value.
    const held = [];
    const handler = (request, reply) => {
      const key = Buffer.from(request.get.key.toUint8Array()).toString();
      const answer = (r) => r._initGet()._initContext(key.length).copyBuffer(Buffer.from(key));
      held.push(() => reply("ok", answer));
      if (held.length === 20) while (held.length) held.pop()();
    };
    await withNodes([handler], { poolSize: 1 }, async (client, [node]) => {
      const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
      const results = await Promise.all(keys.map((k) => client.get(k)));
      assert.deepEqual(
        results.map((r) => r.context.toString()),
        keys,
      );
      assert.equal(node.stats.connections, 1);
    });
  },
);

test(
  "a get carries its read fanout, and an unknown one is refused",
  { timeout: 10_000 },
  async () => {
    const fanouts = [];
    const handler = (request, reply) => {
      fanouts.push(request.get.fanout);
      okHandler()(request, reply);
    };
    await withNodes([handler], {}, async (client, [node]) => {
      await client.get("k");
      await client.get("k", { fanout: "all" });
      await client.get("k", { fanout: "quorum" });
      assert.deepEqual(fanouts, [0, 1, 2], "default (the node's), all, quorum");
      await rejectsWith(client.get("k", { fanout: "some" }), "invalid_argument", /read fanout/);
      assert.equal(fanouts.length, 3);
    });
  },
);

test(
  "a get moves to the next node when a connection breaks or nothing answers",
  { timeout: 10_000 },
  async () => {
    const breaks = (request, reply, socket) => socket.destroy();
    const silent = () => {};
    await withNodes(
      [breaks, silent, okHandler(["v"])],
      { timeoutMs: 300 },
      async (client, nodes) => {
        for (let i = 0; i < 3; ++i)
          assert.deepEqual((await client.get("k")).values.map(String), ["v"]);
        assert.equal(nodes[2].stats.requests, 3);
      },
    );
  },
);

test(
  "a put moves on when it could not connect, never once it was sent",
  { timeout: 10_000 },
  async () => {
    const closed = await closedAddress();
    await withNodes([closed, okHandler()], {}, async (client, [, node]) => {
      assert.equal((await client.put("k", "v")).context.toString(), "w");
      assert.equal(node.stats.requests, 1);
    });
    const breaks = (request, reply, socket) => socket.destroy();
    await withNodes([breaks, okHandler()], { poolSize: 1 }, async (client, nodes) => {
      // Whichever node the rotation starts at, a write sent to the breaking node is not retried.
      const outcomes = await Promise.allSettled([0, 1, 2, 3].map(() => client.put("k", "v")));
      const broken = outcomes.filter((o) => o.status === "rejected");
      assert.equal(broken.length, nodes[0].stats.requests);
      for (const o of broken) assert.equal(o.reason.code, "unavailable", o.reason.message);
      assert.equal(nodes[1].stats.requests, 4 - broken.length);
    });
  },
);

test(
  "a put with no answer in time is a timeout, not retried elsewhere",
  { timeout: 10_000 },
  async () => {
    await withNodes([() => {}, () => {}], { timeoutMs: 200 }, async (client, nodes) => {
      await rejectsWith(client.put("k", "v"), "timeout", /may have been applied/);
      assert.equal(nodes[0].stats.requests + nodes[1].stats.requests, 1);
    });
  },
);

test(
  "overloaded answers are retried after a backoff until the deadline",
  { timeout: 10_000 },
  async () => {
    let refusals = 3;
    const sometimes = (request, reply) =>
      refusals-- > 0 ? reply("overloaded") : okHandler()(request, reply);
    await withNodes([sometimes], {}, async (client, [node]) => {
      assert.equal((await client.put("k", "v")).context.toString(), "w");
      assert.equal(node.stats.requests, 4);
    });
    const always = (request, reply) =>
      reply("overloaded", undefined, "client_requests_in_flight_max is 1");
    await withNodes([always, always], { timeoutMs: 300 }, async (client, nodes) => {
      const started = Date.now();
      await rejectsWith(client.get("k"), "overloaded", /client_requests_in_flight_max/);
      assert.ok(Date.now() - started < 1000, "gives up at the deadline");
      assert.ok(nodes[0].stats.requests >= 2 && nodes[1].stats.requests >= 2, "tried both again");
    });
  },
);

test("the node's errors are typed, with its message", { timeout: 10_000 }, async () => {
  const refuses = (request, reply) =>
    reply("precondition_failed", undefined, "the key changed since that context");
  await withNodes([refuses], {}, async (client) => {
    await rejectsWith(
      client.put("k", "v", { condition: "ifAbsent" }),
      "precondition_failed",
      /key changed/,
    );
  });
  await withNodes([okHandler()], {}, async (client) => {
    await rejectsWith(
      client.put("k", "v", { condition: "sometimes" }),
      "invalid_argument",
      /ifAbsent/,
    );
  });
});

test(
  "not found is a result with the tombstone's context, not an error",
  { timeout: 10_000 },
  async () => {
    const missing = (request, reply) =>
      reply("not_found", (r) => r._initGet()._initContext(4).copyBuffer(Buffer.from("tomb")));
    await withNodes([missing], {}, async (client) => {
      const result = await client.get("k");
      assert.equal(result.found, false);
      assert.deepEqual(result.values, []);
      assert.equal(result.context.toString(), "tomb");
    });
  },
);

test("every node unreachable is unavailable naming each", { timeout: 10_000 }, async () => {
  const [a, b] = [await closedAddress(), await closedAddress()];
  await withNodes([a, b], {}, async (client) => {
    await rejectsWith(client.get("k"), "unavailable", new RegExp(`${a}.*${b}|${b}.*${a}`));
  });
});

test("bad options are refused when the client is made, naming the option", () => {
  const refused = (options, pattern) =>
    assert.throws(
      () => new Client(options),
      (e) => e instanceof QkvError && e.code === "invalid_argument" && pattern.test(e.message),
    );
  refused({ nodes: [] }, /nodes is empty/);
  refused({ nodes: ["localhost"] }, /"localhost" is not host:port/);
  refused({ nodes: ["127.0.0.1:7000"], timeoutMs: 0 }, /timeoutMs is 0/);
  refused({ nodes: ["127.0.0.1:7000"], poolSize: 1.5 }, /poolSize is 1.5/);
  new Client({ nodes: ["[::1]:7000", "db.example:7000"] }).close();
});
