// Cap'n Proto's standard stream framing (proto/framing.cc): a little-endian u32 segment count
// minus one, one u32 size in words per segment, padding to 8 bytes, then the segments. The
// reader accumulates socket chunks and cuts them into whole messages, refusing a frame over
// frameBytesMax before buffering it (as the node does).

import { QkvError } from "./errors.js";

// A message of more segments than this is refused (proto/framing.h kFrameSegmentsMax).
const kFrameSegmentsMax = 512;

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly frameBytesMax: number) {}

  /** Appends bytes read off the socket. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next whole frame (header included, in its own ArrayBuffer, so Cap'n Proto reads it
   * aligned), or undefined until more bytes arrive. Throws corruption on a malformed header
   * and invalid_argument naming frame_bytes_max on an oversized frame.
   */
  next(): ArrayBuffer | undefined {
    if (this.buffered < 4) return undefined;
    const head = this.peek(Math.min(this.buffered, 4 + 4 * kFrameSegmentsMax + 4));
    const segments = head.readUInt32LE(0) + 1;
    if (segments > kFrameSegmentsMax) {
      throw new QkvError(
        "corruption",
        `frame has ${segments} segments; the maximum is ${kFrameSegmentsMax}`,
      );
    }
    const tableBytes = ((segments + 1) * 4 + 7) & ~7;
    if (this.buffered < tableBytes) return undefined;
    let total = tableBytes;
    for (let i = 0; i < segments; ++i) total += head.readUInt32LE(4 + 4 * i) * 8;
    if (total > this.frameBytesMax) {
      throw new QkvError(
        "invalid_argument",
        `frame is ${total} bytes; frame_bytes_max is ${this.frameBytesMax}`,
      );
    }
    if (this.buffered < total) return undefined;
    const out = new ArrayBuffer(total);
    const view = new Uint8Array(out);
    let filled = 0;
    while (filled < total) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, total - filled);
      view.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.buffered -= total;
    return out;
  }

  // The first `bytes` buffered bytes (contiguous; joins chunks only as far as needed).
  private peek(bytes: number): Buffer {
    if (this.chunks[0]!.length >= bytes) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, bytes);
  }
}
