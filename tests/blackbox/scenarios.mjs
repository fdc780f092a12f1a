// The interpreter of scenarios.json (format in README.md), shared by every JavaScript runner:
// clients/typescript/test/blackbox.test.mjs (the TypeScript client) and http_runner.mjs (the
// HTTP API). A runner supplies an adapter of three async operations over Buffers:
//   put(key, value, {context, condition}) -> {context}
//   get(key)                              -> {found, values: Buffer[], context}
//   delete(key, {context, condition})     -> {context}
// context: a Buffer or undefined (none); condition: undefined, "if_absent" or "if_unchanged".
// A refused operation throws an Error whose `code` is the status code name
// ("invalid_argument", "precondition_failed", ...) and whose message is the node's.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** scenarios.json, parsed. */
export function loadScenarios(path = join(here, "scenarios.json")) {
  const doc = JSON.parse(readFileSync(path, "utf8"));
  assert.equal(doc.format, 1, `${path}: unknown format ${doc.format}`);
  return doc;
}

/** A fresh run id: keys of one run never meet keys of another on a shared cluster. */
export function newRunId() {
  return `bb-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

// Bytes of a `key`/`value` field: a UTF-8 string, or {"hex": "..."}.
function bytesOf(spec) {
  if (typeof spec === "string") return Buffer.from(spec, "utf8");
  if (spec && typeof spec.hex === "string") return Buffer.from(spec.hex, "hex");
  throw new Error(
    `bad bytes ${JSON.stringify(spec)}: a string or {"hex": "..."}`,
  );
}

function keyOf(step, prefix) {
  if (step.key_size !== undefined) {
    // Exactly key_size bytes, unique to the run while the prefix fits.
    if (step.key_size === 0) return Buffer.alloc(0);
    const unique = Buffer.from(prefix, "utf8").subarray(0, step.key_size);
    return Buffer.concat([
      unique,
      Buffer.alloc(step.key_size - unique.length, "k"),
    ]);
  }
  return Buffer.concat([Buffer.from(prefix, "utf8"), bytesOf(step.key)]);
}

function valueOf(step) {
  if (step.value_size !== undefined) return Buffer.alloc(step.value_size, "v");
  return bytesOf(step.value ?? "");
}

function contextOf(step, saved) {
  if (step.context === undefined) return undefined;
  const name = String(step.context).replace(/^\$/, "");
  assert.ok(saved.has(name), `context $${name} was never saved`);
  return saved.get(name);
}

const hex = (b) => (b.length > 64 ? `${b.length} bytes` : b.toString("hex"));
const sorted = (buffers) => buffers.map(hex).sort();

function checkGet(result, expect, where) {
  if (expect.found !== undefined)
    assert.equal(result.found, expect.found, `${where}: found`);
  if (expect.values !== undefined) {
    assert.deepEqual(
      sorted(result.values),
      sorted(expect.values.map(bytesOf)),
      `${where}: values (as a set)`,
    );
  }
  if (expect.value_sizes !== undefined) {
    const sizes = result.values.map((v) => v.length).sort((a, b) => a - b);
    assert.deepEqual(
      sizes,
      [...expect.value_sizes].sort((a, b) => a - b),
      `${where}: value sizes`,
    );
    for (const v of result.values)
      assert.ok(
        v.every((b) => b === 0x76),
        `${where}: value bytes`,
      );
  }
  if (expect.sibling_count !== undefined) {
    assert.equal(
      result.values.length,
      expect.sibling_count,
      `${where}: live siblings`,
    );
  }
}

async function runStep(adapter, step, prefix, saved, where) {
  const key = keyOf(step, prefix);
  const options = {
    context: contextOf(step, saved),
    condition: step.condition,
  };
  switch (step.op) {
    case "put":
      return adapter.put(key, valueOf(step), options);
    case "get":
      return adapter.get(key);
    case "delete":
      return adapter.delete(key, options);
    default:
      throw new Error(`${where}: unknown op ${JSON.stringify(step.op)}`);
  }
}

/**
 * Runs one scenario's steps in order against `adapter`; throws an AssertionError naming the
 * scenario, the step and what differed. Keys are prefixed with `${runId}/${scenario.name}/`.
 */
export async function runScenario(adapter, scenario, runId) {
  const prefix = `${runId}/${scenario.name}/`;
  const saved = new Map();
  for (const [i, step] of scenario.steps.entries()) {
    const where = `${scenario.name} step ${i + 1} (${step.op})`;
    const expect = step.expect ?? "ok";
    let result;
    try {
      result = await runStep(adapter, step, prefix, saved, where);
    } catch (e) {
      if (
        e instanceof assert.AssertionError ||
        e.code === undefined ||
        typeof expect !== "object" ||
        !expect.error
      ) {
        throw new Error(`${where}: ${e.code ?? "error"}: ${e.message}`, {
          cause: e,
        });
      }
      assert.equal(
        e.code,
        expect.error,
        `${where}: error code (message: ${e.message})`,
      );
      if (expect.message_contains) {
        assert.ok(
          e.message.includes(expect.message_contains),
          `${where}: message ${JSON.stringify(e.message)} names ${expect.message_contains}`,
        );
      }
      continue;
    }
    assert.ok(
      typeof expect !== "object" || !expect.error,
      `${where}: succeeded, expected ${expect.error}`,
    );
    if (step.save_context) saved.set(step.save_context, result.context);
    if (step.op === "get" && typeof expect === "object")
      checkGet(result, expect, where);
  }
}
