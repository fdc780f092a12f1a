// Encoding of client requests and decoding of the node's answers (proto/client.capnp), with
// the generated capnp-es classes (src/gen, built from the schema by `npm run build`).
// Decoded answers are plain objects whose bytes are copied out of the message.

import * as capnp from "capnp-es";

import { QkvError, codeOfOrdinal } from "./errors.js";
import type { QkvErrorCode } from "./errors.js";
import {
  ClientRequest,
  ClientResponse,
  ClientResponse_Which,
  ReadFanout as WireFanout,
  WriteCondition as WireCondition,
} from "./gen/client.js";

/** Whom a get asks first (proto ReadFanout): every primary, or max(r, pr) of them. */
export type ReadFanout = "all" | "quorum";

/** A conditional write (proto WriteCondition): put-if-absent or put-if-unchanged. */
export type WriteCondition = "ifAbsent" | "ifUnchanged";

/** What one request asks, before it gets a request id. */
export type Op =
  | { kind: "get"; key: Uint8Array; r: number; pr: number; fanout?: ReadFanout }
  | {
      kind: "put";
      key: Uint8Array;
      value: Uint8Array;
      context: Uint8Array;
      w: number;
      primariesOnly: boolean;
      ttlSeconds: number;
      condition?: WriteCondition;
    }
  | {
      kind: "delete";
      key: Uint8Array;
      context: Uint8Array;
      w: number;
      primariesOnly: boolean;
      condition?: WriteCondition;
    }
  | { kind: "authenticate"; user: string; secret: string }
  | { kind: "nodeStatus" };

export interface SiblingMeta {
  tombstone: boolean;
  timestampMs: number;
  node: string;
  expiresMs: number;
}

export interface GetBody {
  values: Buffer[];
  context: Buffer;
  replicas: { node: string; fallback: boolean }[];
  siblings: SiblingMeta[];
}

/** A decoded answer: its request id, status, and the body the client uses (if any). */
export interface Answer {
  requestId: number;
  code: QkvErrorCode | "ok";
  message: string;
  get?: GetBody;
  context?: Buffer; // a put's or delete's PutResponse
  ringVersion?: number; // a nodeStatus answer
}

function wireCondition(condition: WriteCondition | undefined): number {
  if (condition === undefined) return WireCondition.NONE;
  if (condition === "ifAbsent") return WireCondition.IF_ABSENT;
  if (condition === "ifUnchanged") return WireCondition.IF_UNCHANGED;
  throw new QkvError(
    "invalid_argument",
    `unknown write condition ${JSON.stringify(condition)}: use "ifAbsent" or "ifUnchanged"`,
  );
}

function wireFanout(fanout: ReadFanout | undefined): WireFanout {
  if (fanout === undefined) return WireFanout.DEFAULT;
  if (fanout === "all") return WireFanout.ALL;
  if (fanout === "quorum") return WireFanout.QUORUM;
  throw new QkvError(
    "invalid_argument",
    `unknown read fanout ${JSON.stringify(fanout)}: use "all" or "quorum"`,
  );
}

function setData(init: (length: number) => capnp.Data, bytes: Uint8Array): void {
  if (bytes.length > 0) init(bytes.length).copyBuffer(bytes);
}

/** One framed ClientRequest (stream framing), ready to write to the socket. */
export function encodeRequest(requestId: number, timeoutMs: number, op: Op): Buffer {
  const message = new capnp.Message();
  const request = message.initRoot(ClientRequest);
  request.requestId = BigInt(requestId);
  request.timeoutMs = timeoutMs;
  switch (op.kind) {
    case "get": {
      const get = request._initGet();
      setData((n) => get._initKey(n), op.key);
      get.r = op.r;
      get.pr = op.pr;
      get.fanout = wireFanout(op.fanout);
      break;
    }
    case "put": {
      const put = request._initPut();
      setData((n) => put._initKey(n), op.key);
      setData((n) => put._initValue(n), op.value);
      setData((n) => put._initContext(n), op.context);
      put.w = op.w;
      put.primariesOnly = op.primariesOnly;
      put.ttlSeconds = op.ttlSeconds;
      put.condition = wireCondition(op.condition) as typeof put.condition;
      break;
    }
    case "delete": {
      const del = request._initDelete();
      setData((n) => del._initKey(n), op.key);
      setData((n) => del._initContext(n), op.context);
      del.w = op.w;
      del.primariesOnly = op.primariesOnly;
      del.condition = wireCondition(op.condition) as typeof del.condition;
      break;
    }
    case "authenticate": {
      const auth = request._initAuthenticate();
      auth.user = op.user;
      auth.secret = op.secret;
      break;
    }
    case "nodeStatus":
      request.nodeStatus = true;
      break;
  }
  return Buffer.from(message.toArrayBuffer());
}

function copyData(data: capnp.Data): Buffer {
  return Buffer.from(data.toUint8Array());
}

function decodeGet(response: ClientResponse): GetBody {
  const get = response.get;
  return {
    values: Array.from(get.values, copyData),
    context: copyData(get.context),
    replicas: Array.from(get.replicas, (r) => ({ node: r.node, fallback: r.fallback })),
    siblings: Array.from(get.siblings, (s) => ({
      tombstone: s.tombstone,
      timestampMs: Number(s.timestampMs),
      node: s.node,
      expiresMs: Number(s.expiresMs),
    })),
  };
}

/**
 * Decodes one frame (from FrameReader). Throws corruption when the bytes do not decode or
 * carry a status code this client does not know.
 */
export function decodeAnswer(frame: ArrayBuffer): Answer {
  try {
    const response = new capnp.Message(frame, false).getRoot(ClientResponse);
    const status = response.status;
    const code = codeOfOrdinal(status.code);
    if (code === undefined) {
      throw new QkvError("corruption", `the node answered unknown status code ${status.code}`);
    }
    const answer: Answer = { requestId: Number(response.requestId), code, message: status.message };
    const which = response.which();
    if (which === ClientResponse_Which.GET) answer.get = decodeGet(response);
    else if (which === ClientResponse_Which.PUT) answer.context = copyData(response.put.context);
    else if (which === ClientResponse_Which.NODE_STATUS) {
      answer.ringVersion = Number(response.nodeStatus.ringVersion);
    }
    return answer;
  } catch (e) {
    if (e instanceof QkvError) throw e;
    throw new QkvError("corruption", `the node's answer does not decode: ${String(e)}`);
  }
}
