// tests/blackbox/scenarios.json against qkvd's HTTP key-value API (/v1/kv/{key}, README.md
// "HTTP API"), with Node's fetch, on a real 3-node cluster (QKVD_PATH; ctest sets it):
// the same put/get/siblings/delete/limits scenarios the C++ SDK and the TypeScript client
// pass (issue 18). Every answer is also checked against the API's status map (an error's
// JSON code and its HTTP status agree), and a few HTTP-only rules are tested after.
// Run: QKVD_PATH=build/node/qkvd node --test tests/blackbox/http_runner.mjs
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { ProcessCluster } from "./process_cluster.mjs";
import { loadScenarios, newRunId, runScenario } from "./scenarios.mjs";

// The API's status for each error code (413: a key or value over its limit).
const kStatusOfCode = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  precondition_failed: 412,
  overloaded: 429,
  unavailable: 503,
  timeout: 504,
  io_error: 500,
  corruption: 500,
};

/** The path of a key: every byte outside RFC 3986's unreserved set percent-encoded. */
export function kvPath(key) {
  let out = "/v1/kv/";
  for (const b of key) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c)
      ? c
      : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

// Throws the answer's error (code from its JSON body) after checking its status and type.
async function throwError(response) {
  const text = await response.text();
  assert.match(
    response.headers.get("content-type") ?? "",
    /application\/json/,
    `error body type (${response.status} ${text})`,
  );
  const body = JSON.parse(text);
  const limit = /(value|key)_bytes_max/.test(body.message ?? "");
  const expected =
    body.code === "invalid_argument" && limit ? 413 : kStatusOfCode[body.code];
  assert.equal(
    response.status,
    expected,
    `HTTP status of ${body.code}: ${body.message}`,
  );
  if (body.code === "overloaded")
    assert.equal(response.headers.get("retry-after"), "1");
  throw Object.assign(new Error(body.message), {
    code: body.code,
    status: response.status,
  });
}

function contextOf(response) {
  const header = response.headers.get("x-qkv-context");
  assert.ok(header !== null, `X-Qkv-Context on ${response.status}`);
  return Buffer.from(header, "base64");
}

// The scenario interpreter's adapter (scenarios.mjs) over the HTTP API at `base`.
export function httpAdapter(base) {
  const writeHeaders = ({ context, condition }) => {
    const headers = {};
    if (condition === "if_unchanged")
      headers["If-Match"] = (context ?? Buffer.alloc(0)).toString("base64");
    else if (context) headers["X-Qkv-Context"] = context.toString("base64");
    if (condition === "if_absent") headers["If-None-Match"] = "*";
    return headers;
  };
  const written = async (response) => {
    if (response.status !== 204) await throwError(response);
    await response.arrayBuffer();
    return { context: contextOf(response) };
  };
  return {
    async get(key) {
      const response = await fetch(base + kvPath(key));
      if (response.status === 200) {
        assert.ok(
          response.headers.get("x-qkv-timestamp-ms"),
          "X-Qkv-Timestamp-Ms on 200",
        );
        assert.ok(
          response.headers.get("x-qkv-replicas"),
          "X-Qkv-Replicas on 200",
        );
        const value = Buffer.from(await response.arrayBuffer());
        return { found: true, values: [value], context: contextOf(response) };
      }
      if (response.status === 300) {
        assert.match(
          response.headers.get("content-type") ?? "",
          /application\/json/,
        );
        const body = await response.json();
        const live = body.siblings.filter((s) => !s.tombstone);
        assert.ok(live.length > 1, "300 means more than one live sibling");
        assert.equal(response.headers.get("x-qkv-context"), body.context);
        const values = live.map((s) => Buffer.from(s.value, "base64"));
        return {
          found: true,
          values,
          context: Buffer.from(body.context, "base64"),
        };
      }
      if (response.status === 404) {
        // A key never written has an empty context, which the header may leave out.
        const header = response.headers.get("x-qkv-context");
        const context = Buffer.from(header ?? "", "base64");
        const body = await response.json();
        assert.equal(body.code, "not_found");
        return { found: false, values: [], context };
      }
      return throwError(response);
    },
    async put(key, value, options) {
      const headers = {
        "Content-Type": "application/octet-stream",
        ...writeHeaders(options),
      };
      return written(
        await fetch(base + kvPath(key), {
          method: "PUT",
          headers,
          body: value,
        }),
      );
    },
    async delete(key, options) {
      return written(
        await fetch(base + kvPath(key), {
          method: "DELETE",
          headers: writeHeaders(options),
        }),
      );
    },
  };
}

describe("black-box scenarios over the HTTP API", { timeout: 180_000 }, () => {
  const cluster = new ProcessCluster(3);
  const runId = newRunId();
  let base;

  before(async () => {
    await cluster.start();
    base = `http://${cluster.httpAddress(0)}`;
  });
  after(() => cluster.stop());

  for (const scenario of loadScenarios().scenarios) {
    test(scenario.name, { timeout: 30_000 }, () =>
      runScenario(httpAdapter(base), scenario, runId),
    );
  }

  test(
    "other methods are 405 naming the allowed ones",
    { timeout: 10_000 },
    async () => {
      const response = await fetch(`${base}/v1/kv/${runId}-m`, {
        method: "POST",
        body: "x",
      });
      await response.arrayBuffer();
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "GET, HEAD, PUT, DELETE");
    },
  );

  test(
    "a bad query parameter is 400 naming it",
    { timeout: 10_000 },
    async () => {
      for (const [query, name] of [
        ["r=abc", "r"],
        ["w=9", "w"],
      ]) {
        const method = name === "r" ? "GET" : "PUT";
        const response = await fetch(`${base}/v1/kv/${runId}-q?${query}`, {
          method,
          body: method === "PUT" ? "x" : undefined,
        });
        const body = await response.json();
        assert.equal(response.status, 400, query);
        assert.equal(body.code, "invalid_argument", query);
        assert.match(
          body.message,
          new RegExp(`\\b${name}\\b`),
          `${query}: ${body.message}`,
        );
      }
    },
  );

  test(
    "If-None-Match on a delete, and If-Match differing from X-Qkv-Context, are 400",
    { timeout: 10_000 },
    async () => {
      const url = `${base}/v1/kv/${runId}-h`;
      const put = await fetch(url, { method: "PUT", body: "v" });
      assert.equal(put.status, 204);
      const context = put.headers.get("x-qkv-context");
      const del = await fetch(url, {
        method: "DELETE",
        headers: { "If-None-Match": "*", "X-Qkv-Context": context },
      });
      await del.arrayBuffer();
      assert.equal(del.status, 400);
      const other = Buffer.from("not the context").toString("base64");
      const both = await fetch(url, {
        method: "PUT",
        body: "w",
        headers: { "If-Match": context, "X-Qkv-Context": other },
      });
      await both.arrayBuffer();
      assert.equal(both.status, 400);
      const get = await fetch(url);
      assert.equal(
        Buffer.from(await get.arrayBuffer()).toString(),
        "v",
        "refused writes wrote nothing",
      );
    },
  );

  test(
    "siblings answer 300 with every sibling's metadata",
    { timeout: 10_000 },
    async () => {
      const url = `${base}/v1/kv/${runId}-s`;
      for (const v of ["a", "b"])
        assert.equal(
          (await fetch(url, { method: "PUT", body: v })).status,
          204,
        );
      const response = await fetch(url);
      assert.equal(response.status, 300);
      const body = await response.json();
      assert.equal(body.siblings.length, 2);
      const now = Date.now();
      for (const s of body.siblings) {
        assert.equal(s.tombstone, false);
        assert.ok(
          Math.abs(s.timestamp_ms - now) < 60_000,
          `timestamp_ms ${s.timestamp_ms} is the write's time`,
        );
        assert.match(s.node, /^n[123]$/);
        assert.equal(s.expires_ms, 0);
      }
    },
  );
});
