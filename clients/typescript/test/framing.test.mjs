// FrameReader (src/framing.ts): Cap'n Proto stream framing cut out of arbitrary socket chunks,
// and frames over frame_bytes_max or with too many segments refused before buffering them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FrameReader } from "../dist/src/framing.js";
import { encodeResponse } from "./fake_node.mjs";

test("frames split at every byte boundary come out whole and in order", () => {
  const frames = [1, 2, 3].map((id) => encodeResponse(id, "ok", "x".repeat(id * 50)));
  const stream = Buffer.concat(frames);
  for (let cut = 1; cut < stream.length; cut += 7) {
    const reader = new FrameReader(1 << 20);
    const out = [];
    for (let at = 0; at < stream.length; at += cut) {
      reader.push(stream.subarray(at, at + cut));
      for (let f = reader.next(); f; f = reader.next()) out.push(Buffer.from(f));
    }
    assert.deepEqual(out, frames, `chunks of ${cut} bytes`);
  }
});

test("a frame over frame_bytes_max or with too many segments is refused from its header", () => {
  const reader = new FrameReader(64);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0, 0); // one segment
  header.writeUInt32LE(100, 4); // of 100 words: 808 bytes with the header
  reader.push(header);
  assert.throws(
    () => reader.next(),
    (e) =>
      e.code === "invalid_argument" && /frame is 808 bytes; frame_bytes_max is 64/.test(e.message),
  );
  const segments = new FrameReader(1 << 20);
  const many = Buffer.alloc(8);
  many.writeUInt32LE(100_000, 0);
  segments.push(many);
  assert.throws(
    () => segments.next(),
    (e) => e.code === "corruption" && /segments/.test(e.message),
  );
});
