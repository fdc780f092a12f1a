// Typed errors of the qkv client: every failed call rejects with a QkvError whose `code` is
// the node's status code (proto/common.capnp StatusCode) in snake_case, and whose message is
// the node's (or, for errors found locally, the client's) explanation, naming the limit
// where there is one.

/** The status codes a call can fail with (qkv's StatusCode, minus ok). */
export type QkvErrorCode =
  | "invalid_argument"
  | "unavailable"
  | "timeout"
  | "overloaded"
  | "precondition_failed"
  | "permission_denied"
  | "unauthenticated"
  | "not_found"
  | "corruption"
  | "io_error";

// Indexed by the wire's StatusCode ordinal (proto/common.capnp; persisted, never renumbered).
const kCodesByOrdinal: (QkvErrorCode | "ok")[] = [
  "ok",
  "not_found",
  "invalid_argument",
  "unavailable",
  "timeout",
  "corruption",
  "io_error",
  "overloaded",
  "permission_denied",
  "unauthenticated",
  "precondition_failed",
];

export class QkvError extends Error {
  readonly code: QkvErrorCode;

  constructor(code: QkvErrorCode, message: string) {
    super(message);
    this.name = "QkvError";
    this.code = code;
  }
}

/**
 * The code of a wire StatusCode ordinal; "ok" for 0. An ordinal this client does not know
 * (a newer node) is reported as corruption rather than guessed.
 */
export function codeOfOrdinal(ordinal: number): QkvErrorCode | "ok" | undefined {
  return kCodesByOrdinal[ordinal];
}
