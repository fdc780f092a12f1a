// A fake qkv node for the client's unit tests: a TCP server on 127.0.0.1 that reads framed
// ClientRequests (proto/client.capnp) and answers what `handler(request, reply, socket)`
// decides. `reply(code, fill)` sends a ClientResponse with that status code name and lets
// `fill(response)` set its body. Counts connections and requests.
import * as net from "node:net";

import * as capnp from "capnp-es";

import { FrameReader } from "../dist/src/framing.js";
import { ClientRequest, ClientResponse } from "../dist/src/gen/client.js";
import { StatusCode } from "../dist/src/gen/common.js";

const kCodes = {
  ok: StatusCode.OK,
  not_found: StatusCode.NOT_FOUND,
  invalid_argument: StatusCode.INVALID_ARGUMENT,
  unavailable: StatusCode.UNAVAILABLE,
  overloaded: StatusCode.OVERLOADED,
  precondition_failed: StatusCode.PRECONDITION_FAILED,
  unauthenticated: StatusCode.UNAUTHENTICATED,
};

export function encodeResponse(requestId, code, message = "", fill = undefined) {
  const m = new capnp.Message();
  const response = m.initRoot(ClientResponse);
  response.requestId = BigInt(requestId);
  response._initStatus();
  response.status.code = kCodes[code];
  response.status.message = message;
  if (fill) fill(response);
  return Buffer.from(m.toArrayBuffer());
}

export async function fakeNode(handler) {
  const stats = { connections: 0, requests: 0, sockets: [] };
  const server = net.createServer((socket) => {
    stats.connections++;
    stats.sockets.push(socket);
    socket.on("error", () => {});
    const reader = new FrameReader(1 << 26);
    socket.on("data", (chunk) => {
      reader.push(chunk);
      for (let frame = reader.next(); frame; frame = reader.next()) {
        const request = new capnp.Message(frame, false).getRoot(ClientRequest);
        stats.requests++;
        const id = Number(request.requestId);
        const reply = (code, fill, message = code) => {
          if (!socket.destroyed) socket.write(encodeResponse(id, code, message, fill));
        };
        handler(request, reply, socket);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${server.address().port}`,
    stats,
    close: () => {
      for (const s of stats.sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A 127.0.0.1 address nothing listens on (a port just released). */
export async function closedAddress() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

// A Data pointer holding `bytes` (in a scratch message; List.set copies it over).
function dataOf(bytes) {
  const scratch = new capnp.Message().initRoot(ClientResponse)._initPut();
  if (bytes.length > 0) scratch._initContext(bytes.length).copyBuffer(bytes);
  return scratch.context;
}

/** Answers every get with `values` and context "ctx", every put/delete ok with context "w". */
export function okHandler(values = ["v"]) {
  return (request, reply) => {
    if (request._isGet) {
      reply("ok", (r) => {
        const get = r._initGet();
        const list = get._initValues(values.length);
        values.forEach((v, i) => list.set(i, dataOf(Buffer.from(v))));
        get._initContext(3).copyBuffer(Buffer.from("ctx"));
      });
    } else {
      reply("ok", (r) => r._initPut()._initContext(1).copyBuffer(Buffer.from("w")));
    }
  };
}
