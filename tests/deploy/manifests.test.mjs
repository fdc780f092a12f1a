// Every overlay of deploy/kubernetes renders and passes the offline checks (manifests.mjs), and
// broken manifests are refused with a message that names the fault. ctest runs it (label
// deploy):  node tests/deploy/manifests.test.mjs
//   KUBECTL  kubectl with kustomize built in (default: kubectl on PATH)
//   QKVD     qkvd, to check every ConfigMap's qkvd.toml with --check-config
// Exits 77 (ctest: skipped) when no kubectl with kustomize is installed.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { kubectl_path, qkvd_config_problems, render, validate } from "./manifests.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const overlays_dir = join(root, "deploy", "kubernetes", "overlays");
const kubectl = kubectl_path();
if (!kubectl) {
  console.log("SKIP: no kubectl with kustomize (set KUBECTL): deploy/kubernetes was not rendered");
  process.exit(77);
}
const overlays = readdirSync(overlays_dir);

for (const overlay of overlays) {
  test(`overlay ${overlay} renders and passes every check`, async () => {
    const objects = render(join(overlays_dir, overlay), kubectl);
    const kinds = objects.map((o) => o.kind).sort();
    for (const kind of ["ConfigMap", "PodDisruptionBudget", "Service", "ServiceAccount", "StatefulSet"]) {
      assert.ok(kinds.includes(kind), `${overlay} renders no ${kind}`);
    }
    assert.deepEqual(await validate(objects), []);
    const { problems, notes } = qkvd_config_problems(objects, process.env.QKVD);
    for (const n of notes) console.log(`# ${overlay}: ${n}`);
    assert.deepEqual(problems, []);
  });
}

test("the base's defaults are what docs/operations.md promises", () => {
  const objects = render(join(overlays_dir, "production"), kubectl);
  const set = objects.find((o) => o.kind === "StatefulSet");
  const pod = set.spec.template.spec;
  const qkvd = pod.containers[0];
  const env = Object.fromEntries(qkvd.env.map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env.QKV_SERVICE, set.spec.serviceName);
  assert.equal(env.QKV_ZONE.fieldRef.fieldPath, "metadata.labels['topology.kubernetes.io/zone']");
  assert.equal(env.QKV_MEMORY_LIMIT.resourceFieldRef.resource, "limits.memory");
  assert.equal(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.equal(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.length, 1);
  assert.equal(pod.topologySpreadConstraints[0].whenUnsatisfiable, "DoNotSchedule");
  assert.equal(set.spec.volumeClaimTemplates[0].spec.storageClassName, "ssd");
  assert.equal(pod.securityContext.runAsUser, 10001);  // the image's user (deploy/Containerfile)
  assert.match(objects.find((o) => o.kind === "ConfigMap").data["qkvd.toml"], /^auto_join = true/m);
  const pdb = objects.find((o) => o.kind === "PodDisruptionBudget");
  assert.equal(pdb.spec.maxUnavailable, 1);
});

// Each case breaks a copy of the dev overlay's objects one way; validate must say so.
const broken = [
  ["a mount naming a volume that does not exist", (o) => {
    set(o).spec.template.spec.containers[0].volumeMounts.push({ name: "scratch", mountPath: "/scratch" });
  }, /volumeMount "scratch" names no volume/],
  ["a selector that does not match the template's labels", (o) => {
    set(o).spec.selector.matchLabels["app.kubernetes.io/name"] = "qkv2";
  }, /selector .* does not match the template's labels/],
  ["an unknown field in a container", (o) => {
    set(o).spec.template.spec.containers[0].readinessprobe = { periodSeconds: 5 };
  }, /unknown field "readinessprobe"/],
  ["an unknown field deep in the volume claim template", (o) => {
    set(o).spec.volumeClaimTemplates[0].spec.storageClass = "fast";
  }, /volumeClaimTemplates\/0\/spec: unknown field "storageClass"/],
  ["a wrong type", (o) => {
    set(o).spec.replicas = "three";
  }, /schema: \/spec\/replicas: must be integer/],
  ["a missing required field", (o) => {
    delete set(o).spec.template.spec.containers[0].name;
  }, /schema: .*must have required property '?name'?/],
  ["a volume name that is not a DNS label", (o) => {
    const spec = set(o).spec.template.spec;
    spec.volumes[0].name = "Config_Vol";
    spec.containers[0].volumeMounts.find((m) => m.name === "config").name = "Config_Vol";
  }, /volume name "Config_Vol" is not a DNS label/],
  ["a volume defined twice", (o) => {
    const spec = set(o).spec.template.spec;
    spec.volumes.push({ name: "data", emptyDir: {} });
  }, /volume "data" is defined twice/],
  ["a ConfigMap that is not rendered", (o) => {
    set(o).spec.template.spec.volumes.find((v) => v.configMap).configMap.name = "qkv-config";
  }, /names ConfigMap qkv-config, which is not rendered/],
  ["a probe on a port the container does not declare", (o) => {
    set(o).spec.template.spec.containers[0].readinessProbe.httpGet.port = "metrics";
  }, /readinessProbe names port "metrics"/],
  ["a liveness probe that depends on peers", (o) => {
    set(o).spec.template.spec.containers[0].livenessProbe.httpGet.path = "/health/ready";
  }, /livenessProbe must GET \/health\/live \(not \/health\/ready/],
  ["a probe over plain HTTP to the TLS-only port", (o) => {
    delete set(o).spec.template.spec.containers[0].readinessProbe.httpGet.scheme;
  }, /readinessProbe must use scheme HTTPS/],
  ["a Service selecting no pods", (o) => {
    o.find((x) => x.kind === "Service" && x.metadata.name === "qkv-client").spec.selector = { app: "qkv" };
  }, /Service\/qkv-client: selector .* selects no pod template/],
  ["a Service targeting an undeclared port", (o) => {
    o.find((x) => x.kind === "Service" && x.metadata.name === "qkv-client").spec.ports[0].targetPort = "clients";
  }, /targets "clients", which the pods do not declare/],
  ["a peer Service that hides not-ready pods", (o) => {
    delete o.find((x) => x.kind === "Service" && x.metadata.name === "qkv").spec.publishNotReadyAddresses;
  }, /must publish not-ready addresses/],
  ["a root filesystem that is writable", (o) => {
    set(o).spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
  }, /readOnlyRootFilesystem must be true/],
  ["capabilities that are kept", (o) => {
    set(o).spec.template.spec.containers[0].securityContext.capabilities = { drop: ["NET_RAW"] };
  }, /capabilities must drop ALL/],
  ["no fsGroup", (o) => {
    delete set(o).spec.template.spec.securityContext.fsGroup;
  }, /no fsGroup/],
  ["a memory request below the limit", (o) => {
    set(o).spec.template.spec.containers[0].resources.requests.memory = "256Mi";
  }, /memory request \(256Mi\) must equal the limit/],
  ["a short grace period", (o) => {
    set(o).spec.template.spec.terminationGracePeriodSeconds = 30;
  }, /terminationGracePeriodSeconds 30 < 60/],
  ["a PodDisruptionBudget selecting nothing", (o) => {
    o.find((x) => x.kind === "PodDisruptionBudget").spec.selector.matchLabels = { app: "other" };
  }, /PodDisruptionBudget\/qkv: selector selects no pod template/],
  ["a NetworkPolicy opening the peer port to every pod of the namespace", (o) => {
    o.find((x) => x.kind === "NetworkPolicy").spec.ingress[0].from[0].podSelector = {};
  }, /NetworkPolicy\/qkv: an ingress rule opens the peer port to more than/],
  ["no NetworkPolicy", (o) => {
    o.splice(o.findIndex((x) => x.kind === "NetworkPolicy"), 1);
  }, /no NetworkPolicy selects its pods/],
  ["an unknown kind", (o) => {
    o.push({ apiVersion: "apps/v1", kind: "StatefulSets", metadata: { name: "x" } });
  }, /unknown kind StatefulSets in apps\/v1/],
];
function set(objects) {
  return objects.find((o) => o.kind === "StatefulSet");
}

const dev = render(join(overlays_dir, "dev"), kubectl);
for (const [what, breakit, expected] of broken) {
  test(`refused: ${what}`, async () => {
    const objects = structuredClone(dev);
    breakit(objects);
    const problems = await validate(objects);
    assert.ok(problems.some((p) => expected.test(p)),
              `expected a problem matching ${expected}; got:\n  ${problems.join("\n  ")}`);
  });
}

test("refused: a qkvd.toml without [tls], since the pods listen on every interface", { skip: !process.env.QKVD && "no QKVD" }, () => {
  const objects = structuredClone(dev);
  const cm = objects.find((o) => o.kind === "ConfigMap");
  cm.data["qkvd.toml"] = cm.data["qkvd.toml"].replace(/cert_file = .*\n/, "").replace(/key_file = .*\n/, "")
    .replace(/ca_file = .*\n/, "");
  const { problems } = qkvd_config_problems(objects, process.env.QKVD);
  assert.match(problems.join("\n"), /reachable beyond this machine without TLS/);
});

test("refused: a qkvd.toml that qkvd rejects", { skip: !process.env.QKVD && "no QKVD" }, () => {
  const objects = structuredClone(dev);
  const cm = objects.find((o) => o.kind === "ConfigMap");
  cm.data["qkvd.toml"] = cm.data["qkvd.toml"].replace("w = 2", "w = 5");
  const { problems } = qkvd_config_problems(objects, process.env.QKVD);
  assert.match(problems.join("\n"), /qkvd --check-config: .*w/);
});
