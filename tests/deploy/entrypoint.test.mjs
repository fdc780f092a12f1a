// deploy/kubernetes/qkvd-entrypoint.sh with a stand-in qkvd that prints what it was given:
// the node id, advertised names, members or seeds, zone, and the effective config (block
// cache from the memory limit). ctest runs it (label deploy):
//   node tests/deploy/entrypoint.test.mjs
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const entrypoint = join(root, "deploy", "kubernetes", "qkvd-entrypoint.sh");
const dir = mkdtempSync(join(tmpdir(), "qkv-entrypoint-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// The stand-in: prints one argument a line, then the config file it was given.
function stub_qkvd(bin) {
  writeFileSync(join(bin, "qkvd"), `#!/bin/sh
config=
prev=
for a in "$@"; do
  echo "arg: $a"
  [ "$prev" = --config ] && config=$a
  prev=$a
done
echo "--- config"
cat "$config"
`);
  chmodSync(join(bin, "qkvd"), 0o755);
}

let n = 0;
function run(env, config = "[cluster]\nn = 3\n\n[storage]\nsync_writes = false\n") {
  const case_dir = join(dir, `case${n++}`);
  execFileSync("mkdir", ["-p", join(case_dir, "bin"), join(case_dir, "run"), join(case_dir, "data")]);
  stub_qkvd(join(case_dir, "bin"));
  writeFileSync(join(case_dir, "qkvd.toml"), config);
  const r = spawnSync("sh", [entrypoint, "--log-level", "debug"], {
    encoding: "utf8",
    env: {
      PATH: `${join(case_dir, "bin")}:/usr/bin:/bin`,
      QKV_CONFIG: join(case_dir, "qkvd.toml"),
      QKV_RUN_DIR: join(case_dir, "run"),
      QKV_DATA_DIR: join(case_dir, "data", "d"),
      POD_NAMESPACE: "prod",
      ...env,
    },
  });
  const [args, config_out] = r.stdout.split("--- config\n");
  return {
    status: r.status,
    stderr: r.stderr,
    args: (args ?? "").split("\n").filter(Boolean).map((l) => l.replace(/^arg: /, "")),
    config: config_out ?? "",
  };
}
const flag = (args, name) => args[args.indexOf(name) + 1];

test("an initial member: its DNS name advertised, the initial members listed, every port open", () => {
  const r = run({ POD_NAME: "qkv-1" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(flag(r.args, "--node-id"), "qkv-1");
  assert.equal(flag(r.args, "--peer-advertise"), "qkv-1.qkv.prod.svc.cluster.local:7100");
  assert.equal(flag(r.args, "--client-advertise"), "qkv-1.qkv.prod.svc.cluster.local:7000");
  assert.equal(flag(r.args, "--members"),
               ["qkv-0", "qkv-1", "qkv-2"].map((p) => `${p}=${p}.qkv.prod.svc.cluster.local:7100`).join(","));
  assert.ok(!r.args.includes("--seeds"));
  assert.equal(flag(r.args, "--peer-listen"), "0.0.0.0:7100");
  assert.equal(flag(r.args, "--http-listen"), "0.0.0.0:7200");
  assert.ok(!r.args.includes("--zone"), "no zone label: no --zone");
  assert.equal(r.args.at(-2), "--log-level", "the container's args come last");
});

test("a later ordinal starts from the initial members as seeds", () => {
  const r = run({ POD_NAME: "db-4", QKV_SERVICE: "db-peers", QKV_CLUSTER_DOMAIN: "example.org" });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.args.includes("--members"));
  assert.equal(flag(r.args, "--seeds"),
               [0, 1, 2].map((i) => `db-${i}.db-peers.prod.svc.example.org:7100`).join(","));
});

test("the zone and the block cache from the memory limit", () => {
  const r = run({ POD_NAME: "qkv-0", QKV_ZONE: "eu-west-1b", QKV_MEMORY_LIMIT: String(2 * 2 ** 30) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(flag(r.args, "--zone"), "eu-west-1b");
  assert.match(r.config, /\[storage\]\nblock_cache_bytes = 536870912 .*\nsync_writes = false/);
});

test("a block cache set in the config wins; a config without [storage] gets one", () => {
  const set = run({ POD_NAME: "qkv-0", QKV_MEMORY_LIMIT: "1073741824" },
                  "[storage]\nblock_cache_bytes = 1000\n");
  assert.match(set.config, /^block_cache_bytes = 1000$/m);
  assert.equal(set.config.match(/block_cache_bytes/g).length, 1);
  const none = run({ POD_NAME: "qkv-0", QKV_MEMORY_LIMIT: "1073741824", QKV_BLOCK_CACHE_PERCENT: "50" },
                   "[cluster]\nn = 3\n");
  assert.match(none.config, /\[storage\]\nblock_cache_bytes = 536870912 /);
});

test("a pod name without an ordinal, or bad numbers, are refused with exit 2", () => {
  for (const env of [{ POD_NAME: "qkv" }, { POD_NAME: "qkv-0", QKV_INITIAL_MEMBERS: "0" },
                     { POD_NAME: "qkv-0", QKV_MEMORY_LIMIT: "2Gi" }]) {
    const r = run(env);
    assert.equal(r.status, 2, JSON.stringify(env));
    assert.match(r.stderr, /qkvd-entrypoint: /);
  }
});

test("the data directory is made inside the volume, not at its root (lost+found)", () => {
  const r = run({ POD_NAME: "qkv-0" });
  const data = flag(r.args, "--data-dir");
  assert.match(data, /data\/d$/);
  assert.ok(existsSync(data));
});
