// Offline checks of rendered Kubernetes manifests: what an API server would refuse, and the
// rules qkv's deployment relies on. No cluster is needed (none runs on the project's machines).
//
//   render(overlay)       `kubectl kustomize` of an overlay directory, parsed into objects
//   validate(objects)     a list of problems, each "Kind/name: where: what" (empty: all good)
//
// Three layers:
//   1. schema: every object against the Kubernetes API's OpenAPI schema (npm kubernetes-models:
//      types, required fields, enums, formats);
//   2. unknown fields: every key must be a field of its type (the field lists of npm
//      @kubernetes/client-node's generated models; kubernetes-models ignores extra keys, an
//      API server with strict field validation refuses them, an older one drops them silently);
//   3. references and qkv's rules (references(), qkv_rules()): a mount names a volume, a
//      selector matches the template's labels, probes name ports, the restricted Pod Security
//      Standard, and so on.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
// The generated models alone: the package's index also loads its HTTP client, which needs a
// newer Node.js than Debian's.
import * as clientModels from "@kubernetes/client-node/dist/gen/models/all.js";

export function kubectl_path() {
  const path = process.env.KUBECTL || "kubectl";
  try {
    const out = execFileSync(path, ["version", "--client"], { encoding: "utf8" });
    return /Kustomize Version/.test(out) ? path : null;
  } catch {
    return null;
  }
}

export function parse(text) {
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export function render(overlay, kubectl = kubectl_path()) {
  const text = execFileSync(kubectl, ["kustomize", overlay], { encoding: "utf8" });
  return parse(text);
}

const name_of = (o) => `${o?.kind ?? "?"}/${o?.metadata?.name ?? "?"}`;

// --- 1. schema ---------------------------------------------------------------------------------

async function model_class(apiVersion, kind) {
  try {  // core objects: kubernetes-models/v1; others: kubernetes-models/<group>/<version>
    return (await import(`kubernetes-models/${apiVersion}`))[kind] ?? null;
  } catch {
    return null;
  }
}

async function schema_problems(o) {
  if (typeof o?.apiVersion !== "string" || typeof o?.kind !== "string") {
    return [`${name_of(o)}: apiVersion and kind are required`];
  }
  const Model = await model_class(o.apiVersion, o.kind);
  if (!Model) return [`${name_of(o)}: unknown kind ${o.kind} in ${o.apiVersion}`];
  try {
    new Model(structuredClone(o)).validate();
    return [];
  } catch (e) {
    const details = (e.errors ?? []).map((x) => `${x.instancePath || "/"}: ${x.message}`);
    return details.length ? details.map((d) => `${name_of(o)}: schema: ${d}`)
                          : [`${name_of(o)}: schema: ${e.message}`];
  }
}

// --- 2. unknown fields -------------------------------------------------------------------------

function client_model(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  const cap = version.charAt(0).toUpperCase() + version.slice(1);
  return clientModels[`${cap}${kind}`] ?? null;
}

function unknown_fields(value, type, path, out) {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknown_fields(v, array[1], `${path}/${i}`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) unknown_fields(v, map[1], `${path}/${k}`, out);
    }
    return;
  }
  const model = clientModels[type];
  if (!model?.getAttributeTypeMap || typeof value !== "object" || Array.isArray(value)) return;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) {
      out.push(`${path || "/"}: unknown field "${k}" (${type.replace(/^V\d\w*?(?=[A-Z])/, "")})`);
    } else {
      unknown_fields(v, fields.get(k), `${path}/${k}`, out);
    }
  }
}

function unknown_field_problems(o) {
  const model = client_model(o.apiVersion ?? "", o.kind ?? "");
  if (!model) return [];  // schema_problems already named the kind
  const out = [];
  const type = Object.keys(clientModels).find((k) => clientModels[k] === model);
  unknown_fields(o, type, "", out);
  return out.map((p) => `${name_of(o)}: ${p}`);
}

// --- 3. references and qkv's rules -----------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;  // IANA_SVC_NAME

const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => (labels ?? {})[k] === v);

function pod_spec_problems(where, spec, claim_names, objects) {
  const out = [];
  const volumes = spec.volumes ?? [];
  const volume_names = new Set();
  for (const v of volumes) {
    if (!DNS_LABEL.test(v.name ?? "")) out.push(`${where}: volume name "${v.name}" is not a DNS label`);
    if (volume_names.has(v.name) || claim_names.has(v.name)) {
      out.push(`${where}: volume "${v.name}" is defined twice`);
    }
    volume_names.add(v.name);
    const cm = v.configMap?.name;
    if (cm && !v.configMap.optional &&
        !objects.some((o) => o.kind === "ConfigMap" && o.metadata?.name === cm)) {
      out.push(`${where}: volume "${v.name}" names ConfigMap ${cm}, which is not rendered`);
    }
  }
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const container_names = new Set(containers.map((c) => c.name));
  for (const c of containers) {
    const cw = `${where}: container ${c.name}`;
    const ports = new Map();
    for (const p of c.ports ?? []) {
      if (p.name === undefined) continue;
      if (!PORT_NAME.test(p.name) || p.name.length > 15) out.push(`${cw}: port name "${p.name}" is not an IANA service name`);
      if (ports.has(p.name)) out.push(`${cw}: port name "${p.name}" is used twice`);
      ports.set(p.name, p.containerPort);
    }
    const paths = new Set();
    for (const m of c.volumeMounts ?? []) {
      if (!volume_names.has(m.name) && !claim_names.has(m.name)) {
        out.push(`${cw}: volumeMount "${m.name}" names no volume (volumes: ${[...volume_names, ...claim_names].join(", ")})`);
      }
      if (paths.has(m.mountPath)) out.push(`${cw}: mountPath ${m.mountPath} is mounted twice`);
      paths.add(m.mountPath);
    }
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const port = c[probe]?.httpGet?.port;
      if (typeof port === "string" && !ports.has(port)) {
        out.push(`${cw}: ${probe} names port "${port}", which the container does not declare`);
      }
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.resourceFieldRef;
      if (ref?.containerName && !container_names.has(ref.containerName)) {
        out.push(`${cw}: env ${e.name} reads the resources of container "${ref.containerName}", which does not exist`);
      }
    }
  }
  return out;
}

// The rules of the restricted Pod Security Standard and of qkv's pods (docs/operations.md,
// "Kubernetes"): what a production overlay must never lose.
function qkv_pod_rules(where, spec) {
  const out = [];
  const pod_sc = spec.securityContext ?? {};
  if (pod_sc.fsGroup === undefined) out.push(`${where}: no fsGroup: a new volume stays root's`);
  const qkvd = (spec.containers ?? []).find((c) => c.name === "qkvd");
  if (!qkvd) return [...out, `${where}: no container named qkvd`];
  const sc = qkvd.securityContext ?? {};
  const cw = `${where}: container qkvd`;
  if (!(sc.runAsNonRoot ?? pod_sc.runAsNonRoot)) out.push(`${cw}: runAsNonRoot is not set`);
  if (sc.allowPrivilegeEscalation !== false) out.push(`${cw}: allowPrivilegeEscalation must be false`);
  if (sc.readOnlyRootFilesystem !== true) out.push(`${cw}: readOnlyRootFilesystem must be true`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${cw}: capabilities must drop ALL`);
  const seccomp = (sc.seccompProfile ?? pod_sc.seccompProfile)?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${cw}: seccompProfile must be RuntimeDefault or Localhost`);
  const want = { startupProbe: "/health/startup", readinessProbe: "/health/ready", livenessProbe: "/health/live" };
  for (const [probe, path] of Object.entries(want)) {
    const got = qkvd[probe]?.httpGet?.path;
    if (got !== path) out.push(`${cw}: ${probe} must GET ${path}${got ? ` (not ${got}: liveness never depends on peers)` : ""}`);
    const scheme = qkvd[probe]?.httpGet?.scheme ?? "HTTP";
    if (scheme !== "HTTPS") out.push(`${cw}: ${probe} must use scheme HTTPS (the HTTP port speaks TLS only), not ${scheme}`);
  }
  const req = qkvd.resources?.requests?.memory;
  const lim = qkvd.resources?.limits?.memory;
  if (!lim || String(req) !== String(lim)) out.push(`${cw}: memory request (${req}) must equal the limit (${lim}): the block cache is sized from it`);
  if (!qkvd.lifecycle?.preStop) out.push(`${cw}: no preStop (endpoints must update before SIGTERM)`);
  if ((spec.terminationGracePeriodSeconds ?? 30) < 60) out.push(`${where}: terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds ?? 30} < 60`);
  return out;
}

function references(objects) {
  const out = [];
  const services = objects.filter((o) => o.kind === "Service");
  const sets = objects.filter((o) => o.kind === "StatefulSet");
  for (const s of sets) {
    const where = name_of(s);
    const labels = s.spec?.template?.metadata?.labels ?? {};
    const selector = s.spec?.selector ?? {};
    if (!matches(selector.matchLabels, labels)) {
      out.push(`${where}: selector ${JSON.stringify(selector.matchLabels)} does not match the template's labels ${JSON.stringify(labels)}`);
    }
    for (const e of selector.matchExpressions ?? []) out.push(`${where}: matchExpressions are not checked here (${e.key})`);
    const headless = services.find((v) => v.metadata?.name === s.spec?.serviceName);
    if (!headless) out.push(`${where}: serviceName ${s.spec?.serviceName} names no rendered Service`);
    else if (headless.spec?.clusterIP !== "None") out.push(`${where}: Service ${headless.metadata.name} must be headless (clusterIP: None)`);
    else if (headless.spec?.publishNotReadyAddresses !== true) out.push(`${where}: Service ${headless.metadata.name} must publish not-ready addresses (peers find each other before ready)`);
    const claims = new Set((s.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name));
    const spec = s.spec?.template?.spec ?? {};
    out.push(...pod_spec_problems(where, spec, claims, objects));
    out.push(...qkv_pod_rules(where, spec));
    const sa = spec.serviceAccountName;
    if (sa && !objects.some((o) => o.kind === "ServiceAccount" && o.metadata?.name === sa)) {
      out.push(`${where}: serviceAccountName ${sa} names no rendered ServiceAccount`);
    }
    for (const term of [
      ...(spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      ...(spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => t.podAffinityTerm),
      ...(spec.topologySpreadConstraints ?? []),
    ]) {
      if (!matches(term?.labelSelector?.matchLabels, labels) || !term?.labelSelector?.matchLabels) {
        out.push(`${where}: an anti-affinity or spread term's selector does not select the set's pods`);
      }
    }
    if (!(spec.topologySpreadConstraints ?? []).some((t) => t.topologyKey === "topology.kubernetes.io/zone")) {
      out.push(`${where}: no topologySpreadConstraint over topology.kubernetes.io/zone`);
    }
    // Every Service that selects these pods names ports they declare.
    const ports = new Set((spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name)));
    for (const v of services) {
      if (!v.spec?.selector || !matches(v.spec.selector, labels)) continue;
      for (const p of v.spec.ports ?? []) {
        if (typeof p.targetPort === "string" && !ports.has(p.targetPort)) {
          out.push(`${name_of(v)}: port ${p.name} targets "${p.targetPort}", which the pods do not declare`);
        }
      }
    }
  }
  for (const v of services) {
    if (v.spec?.selector && !sets.some((s) => matches(v.spec.selector, s.spec?.template?.metadata?.labels))) {
      out.push(`${name_of(v)}: selector ${JSON.stringify(v.spec.selector)} selects no pod template`);
    }
  }
  // The peer port admits only the set's own pods (docs/security.md).
  for (const s of sets) {
    const labels = s.spec?.template?.metadata?.labels ?? {};
    const policies = objects.filter((o) => o.kind === "NetworkPolicy" &&
                                           matches(o.spec?.podSelector?.matchLabels, labels));
    if (policies.length === 0) out.push(`${name_of(s)}: no NetworkPolicy selects its pods (the peer port would be open to every pod)`);
    for (const p of policies) {
      for (const rule of p.spec?.ingress ?? []) {
        if (!(rule.ports ?? []).some((port) => port.port === "peer" || port.port === 7100)) continue;
        const from = rule.from ?? [];
        const own_pods = (f) => !f.namespaceSelector && !f.ipBlock &&
          Object.keys(f.podSelector?.matchLabels ?? {}).length > 0 && matches(f.podSelector.matchLabels, labels);
        if (from.length === 0 || !from.every(own_pods)) {
          out.push(`${name_of(p)}: an ingress rule opens the peer port to more than ${name_of(s)}'s pods`);
        }
      }
      if ((p.spec?.ingress ?? []).some((rule) => (rule.ports ?? []).length === 0)) {
        out.push(`${name_of(p)}: an ingress rule without ports opens every port, the peer port included`);
      }
    }
  }
  for (const b of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
    if (!sets.some((s) => matches(b.spec?.selector?.matchLabels, s.spec?.template?.metadata?.labels))) {
      out.push(`${name_of(b)}: selector selects no pod template`);
    }
  }
  for (const o of objects) {
    const n = o.metadata?.name ?? "";
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(n)) out.push(`${name_of(o)}: name is not a DNS subdomain`);
  }
  return out;
}

// qkvd's own check of every ConfigMap's qkvd.toml, with the flags the entrypoint adds
// (qkvd --check-config: opens nothing). QKVD names the binary; without it this is skipped.
export function qkvd_config_problems(objects, qkvd) {
  const out = [];
  if (!qkvd) return { problems: out, notes: ["qkvd --check-config: skipped (no QKVD)"] };
  const dir = mkdtempSync(join(tmpdir(), "qkv-config-"));
  try {
    for (const cm of objects.filter((o) => o.kind === "ConfigMap" && o.data?.["qkvd.toml"])) {
      const file = join(dir, "qkvd.toml");
      writeFileSync(file, cm.data["qkvd.toml"]);
      const args = ["--config", file, "--check-config", "--node-id", "qkv-0", "--data-dir", join(dir, "data"),
                    "--client-listen", "0.0.0.0:7000", "--peer-listen", "0.0.0.0:7100", "--http-listen", "0.0.0.0:7200",
                    "--client-advertise", "qkv-0.qkv.default.svc.cluster.local:7000",
                    "--peer-advertise", "qkv-0.qkv.default.svc.cluster.local:7100",
                    "--members", [0, 1, 2].map((i) => `qkv-${i}=qkv-${i}.qkv.default.svc.cluster.local:7100`).join(",")];
      try {
        execFileSync(qkvd, args, { encoding: "utf8", stdio: "pipe" });
      } catch (e) {
        out.push(`${name_of(cm)}: qkvd --check-config: ${`${e.stderr}${e.stdout}`.trim()}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { problems: out, notes: [] };
}

export async function validate(objects) {
  const out = [];
  for (const o of objects) {
    out.push(...(await schema_problems(o)));
    out.push(...unknown_field_problems(o));
  }
  out.push(...references(objects));
  return out;
}
