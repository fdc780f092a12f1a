// Limits checked before a request is sent (design.md §4.5), mirroring common/limits.h's
// defaults and messages: a refused request is never sent, and its error names the limit.

import { QkvError } from "./errors.js";

export interface Limits {
  /** A key's bytes; default 65536 (64 KiB). Keys must also be non-empty. */
  keyBytesMax: number;
  /** A value's bytes; default 16777216 (16 MiB). */
  valueBytesMax: number;
  /** An opaque causal context's bytes; default 65536 (64 KiB). */
  contextBytesMax: number;
  /** One framed message on the wire, either way; default 33554432 (32 MiB). */
  frameBytesMax: number;
}

export const defaultLimits: Readonly<Limits> = Object.freeze({
  keyBytesMax: 64 * 1024,
  valueBytesMax: 16 * 1024 * 1024,
  contextBytesMax: 64 * 1024,
  frameBytesMax: 32 * 1024 * 1024,
});

/** Throws invalid_argument if the key is empty or over keyBytesMax. */
export function checkKey(limits: Limits, keyBytes: number): void {
  if (keyBytes === 0) throw new QkvError("invalid_argument", "key is empty");
  if (keyBytes > limits.keyBytesMax) {
    throw new QkvError(
      "invalid_argument",
      `key is ${keyBytes} bytes; key_bytes_max is ${limits.keyBytesMax}`,
    );
  }
}

/** Throws invalid_argument if the value is over valueBytesMax. */
export function checkValue(limits: Limits, valueBytes: number): void {
  if (valueBytes > limits.valueBytesMax) {
    throw new QkvError(
      "invalid_argument",
      `value is ${valueBytes} bytes; value_bytes_max is ${limits.valueBytesMax}`,
    );
  }
}

/** Throws invalid_argument if the causal context is over contextBytesMax. */
export function checkContext(limits: Limits, contextBytes: number): void {
  if (contextBytes > limits.contextBytesMax) {
    throw new QkvError(
      "invalid_argument",
      `causal context is ${contextBytes} bytes; context_bytes_max is ${limits.contextBytesMax}`,
    );
  }
}
