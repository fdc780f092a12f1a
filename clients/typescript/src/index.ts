// qkv's TypeScript/Node.js client (README.md): Client, its options and results, QkvError.
export { Client, serverTimeoutMs } from "./client.js";
export type {
  Bytes,
  ClientOptions,
  GetOptions,
  GetResult,
  PutOptions,
  Sibling,
  WriteOptions,
  WriteResult,
} from "./client.js";
export type { ReadFanout, WriteCondition } from "./codec.js";
export type { Credentials, TlsOptions } from "./connection.js";
export { QkvError } from "./errors.js";
export type { QkvErrorCode } from "./errors.js";
export { defaultLimits } from "./limits.js";
export type { Limits } from "./limits.js";
