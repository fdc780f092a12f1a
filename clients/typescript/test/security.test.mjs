// The client with TLS (verified against the cluster CA) and credentials against a real
// 3-node qkvd cluster with [tls] and [auth] (docs/security.md): the certificates come from
// openssl, the users file's scrypt hash from node:crypto (net/credentials.cc's format).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, scryptSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Client, QkvError } from "../dist/src/index.js";
import { ProcessCluster } from "../../../tests/blackbox/process_cluster.mjs";

const openssl = (dir, ...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

// A CA and one certificate for every node: URI SANs urn:qkv:node:n1..n3, IP SAN 127.0.0.1.
function makeCertificates(dir) {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=qkv test CA",
  );
  openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "node.key",
    "-out",
    "node.csr",
    "-subj",
    "/CN=qkv nodes",
  );
  writeFileSync(
    join(dir, "san.ext"),
    "subjectAltName=URI:urn:qkv:node:n1,URI:urn:qkv:node:n2,URI:urn:qkv:node:n3,IP:127.0.0.1\n",
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "node.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "node.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  );
}

// users.toml's line for `secret` (scrypt, log2 N 10: cheap for a test).
function scryptLine(secret) {
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N: 1 << 10, r: 8, p: 1 });
  return `scrypt:10:8:1:${salt.toString("base64")}:${key.toString("base64")}`;
}

describe("TLS and credentials", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "qkv-ts-security-"));
  const secret = randomBytes(18).toString("base64");
  let cluster;
  let ca;
  const clients = [];
  const clientOf = (options) => {
    const c = new Client({ nodes: cluster.clientAddresses(), timeoutMs: 3000, ...options });
    clients.push(c);
    return c;
  };

  before(async () => {
    makeCertificates(dir);
    ca = readFileSync(join(dir, "ca.crt"));
    writeFileSync(
      join(dir, "users.toml"),
      `[users.app]\nsecret = "${scryptLine(secret)}"\ngrants = ["read", "write"]\n`,
    );
    writeFileSync(
      join(dir, "qkvd.toml"),
      [
        "[tls]",
        `cert_file = "${dir}/node.crt"`,
        `key_file = "${dir}/node.key"`,
        `ca_file = "${dir}/ca.crt"`,
        "[auth]",
        `users_file = "${dir}/users.toml"`,
        "",
      ].join("\n"),
    );
    cluster = new ProcessCluster(3, { extraFlags: ["--config", join(dir, "qkvd.toml")] });
    const probe = () =>
      clientOf({ tls: { ca }, credentials: { user: "app", secret }, timeoutMs: 500 });
    await cluster.start(30_000, async (i) => (await probe().ringVersion(i)) > 0);
  });
  after(() => {
    for (const c of clients) c.close();
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    "a client with the CA and a user's secret writes and reads",
    { timeout: 20_000 },
    async () => {
      const client = clientOf({ tls: { ca }, credentials: { user: "app", secret } });
      await client.put("tls-key", "over tls");
      assert.deepEqual((await client.get("tls-key")).values.map(String), ["over tls"]);
    },
  );

  test("a wrong secret is unauthenticated", { timeout: 20_000 }, async () => {
    const client = clientOf({ tls: { ca }, credentials: { user: "app", secret: "wrong" } });
    await assert.rejects(
      client.get("tls-key"),
      (e) => e instanceof QkvError && e.code === "unauthenticated",
    );
  });

  test("no credentials on a node with [auth] is unauthenticated", { timeout: 20_000 }, async () => {
    const client = clientOf({ tls: { ca } });
    await assert.rejects(
      client.get("tls-key"),
      (e) => e instanceof QkvError && e.code === "unauthenticated",
    );
  });

  test("a node whose certificate the CA did not sign is refused", { timeout: 20_000 }, async () => {
    const other = mkdtempSync(join(tmpdir(), "qkv-ts-other-ca-"));
    try {
      makeCertificates(other);
      const client = clientOf({
        tls: { ca: readFileSync(join(other, "ca.crt")) },
        credentials: { user: "app", secret },
      });
      await assert.rejects(
        client.get("tls-key"),
        (e) => e instanceof QkvError && e.code === "unavailable" && /certificate/i.test(e.message),
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
