// The kubelet's part, for deploy/test: one StatefulSet pod, from rendered manifests, as YAML that
// `podman kube play` runs. podman takes Pods, not StatefulSets, and leaves some of the
// kubelet's work undone; this does that work here, and only that:
//   - the pod's identity: name <set>-<ordinal>, hostname, the StatefulSet controller's labels,
//     and the node's zone label (as the PodTopologyLabelsAdmission plugin copies it);
//   - the downward API (podman 4.3 resolves metadata.name and labels but not
//     metadata.namespace): every fieldRef and resourceFieldRef becomes its value;
//   - cert-manager's CSI driver: its volume becomes the directory <certs>/<pod>, and the plan
//     lists the certificate its volumeAttributes ask for (${POD_NAME} and ${POD_NAMESPACE}
//     resolved), which deploy/test issues there from its test CA as the driver would;
//   - a Secret volume becomes the directory <secrets>/<secretName> (deploy/test writes it);
//   - the volume claim becomes the directory given (a stand-in for the provisioned volume);
//     fsGroup's effect on it is deploy/test's (podman ignores fsGroup), and its group joins the
//     supplementary groups as the kubelet adds it;
//   - probes, preStop and the grace period are the kubelet's to run (deploy/test probes from
//     the host as the kubelet does from the node, and runs preStop before stopping the pod),
//     so they are taken out of the spec and printed in the plan;
//   - scheduling (affinity, spread, the service account) has no meaning on one machine;
//   - containerPorts are dropped: podman would publish each on the host.
// Anything else in the spec goes to podman as rendered.
//
//   node pods.mjs RENDERED.yaml ORDINAL --volume DIR --zone ZONE --pod-prefix P \
//        [--image IMAGE] [--certs DIR] [--secrets DIR] --plan PLAN.json > pod.yaml
import { readFileSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { parse } from "./manifests.mjs";

const QUANTITY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3, "": 1 };
export function quantity(q) {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(String(q));
  if (!m || !(m[2] in QUANTITY)) throw new Error(`quantity ${q}`);
  return Number(m[1]) * QUANTITY[m[2]];
}

function resolve_env(env, ctx, container) {
  return (env ?? []).map((e) => {
    if (!e.valueFrom) return e;
    const field = e.valueFrom.fieldRef?.fieldPath;
    const resource = e.valueFrom.resourceFieldRef;
    let value;
    if (field === "metadata.name") value = ctx.name;
    else if (field === "metadata.namespace") value = ctx.namespace;
    else if (field === "spec.nodeName") value = "podman";
    else if (/^metadata\.(labels|annotations)\['(.+)'\]$/.test(field ?? "")) {
      const [, kind, key] = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(field);
      value = ctx[kind][key] ?? "";
    } else if (resource) {
      const owner = ctx.containers.find((c) => c.name === (resource.containerName || container.name));
      const [kind, name] = resource.resource.split(".");
      const raw = owner?.resources?.[kind]?.[name];
      if (raw === undefined) throw new Error(`env ${e.name}: ${resource.resource} is not set`);
      value = String(Math.ceil(quantity(raw) / quantity(resource.divisor ?? "1")));
    } else {
      throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} is not resolved here`);
    }
    return { name: e.name, value };
  });
}

// The certificate a cert-manager CSI volume asks for, for pod `ctx`.
function csi_certificate(v, ctx, dir) {
  const a = v.csi.volumeAttributes ?? {};
  const sub = (text) => String(text ?? "").replaceAll("${POD_NAME}", ctx.name)
    .replaceAll("${POD_NAMESPACE}", ctx.namespace).trim();
  const list = (text) => sub(text).split(",").map((x) => x.trim()).filter(Boolean);
  return { volume: v.name, dir, common_name: sub(a["csi.cert-manager.io/common-name"]),
           dns_names: list(a["csi.cert-manager.io/dns-names"]), uri_sans: list(a["csi.cert-manager.io/uri-sans"]),
           fs_group: a["csi.cert-manager.io/fs-group"] ?? null };
}

export function pod_for(objects, ordinal, { volume, zone, podPrefix = "", image, certs, secrets }) {
  const set = objects.find((o) => o.kind === "StatefulSet");
  const name = `${set.metadata.name}-${ordinal}`;
  const namespace = set.metadata.namespace ?? "default";
  const template = structuredClone(set.spec.template);
  const labels = {
    ...template.metadata.labels,
    "statefulset.kubernetes.io/pod-name": name,
    "apps.kubernetes.io/pod-index": String(ordinal),
    ...(zone ? { "topology.kubernetes.io/zone": zone } : {}),
  };
  const spec = template.spec;
  const ctx = { name, namespace, labels, annotations: template.metadata.annotations ?? {}, containers: spec.containers };
  const plan = {
    name,
    pod: `${podPrefix}${name}`,
    namespace,
    hostname: name,
    dns_name: `${name}.${set.spec.serviceName}.${namespace}.svc.cluster.local`,
    grace_seconds: spec.terminationGracePeriodSeconds ?? 30,
    min_ready_seconds: set.spec.minReadySeconds ?? 0,
    fs_group: spec.securityContext?.fsGroup ?? null,
    fs_group_change_policy: spec.securityContext?.fsGroupChangePolicy ?? "Always",
    containers: {},
  };
  for (const c of spec.containers) {
    c.env = resolve_env(c.env, ctx, c);
    if (image) c.image = image;  // this run's build of the rendered image
    const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    const probe = (p) => p && { path: p.httpGet.path, port: ports[p.httpGet.port] ?? p.httpGet.port,
                                scheme: (p.httpGet.scheme ?? "HTTP").toLowerCase(),
                                period_seconds: p.periodSeconds ?? 10, failure_threshold: p.failureThreshold ?? 3 };
    plan.containers[c.name] = {
      container: `${podPrefix}${name}-${c.name}`,
      startup: probe(c.startupProbe), readiness: probe(c.readinessProbe), liveness: probe(c.livenessProbe),
      pre_stop: c.lifecycle?.preStop?.exec?.command ?? null,
    };
    delete c.startupProbe;
    delete c.readinessProbe;
    delete c.livenessProbe;
    delete c.lifecycle;
    // podman 4.3's kube play publishes every containerPort on the host (hostPort or not), so
    // the second pod's 7000 would clash; a pod's ports are reachable on its IP without them.
    delete c.ports;
  }
  const claims = new Set((set.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name));
  if (claims.size !== 1) throw new Error("expected one volume claim template");
  // podman 4.3 makes an emptyDir a named volume shared by every pod that names it alike: each
  // pod gets a directory of its own instead (made by deploy/test: <volume>-<name>, mode 0777
  // as the kubelet makes an emptyDir).
  plan.empty_dirs = (spec.volumes ?? []).filter((v) => v.emptyDir).map((v) => `${volume}-${v.name}`);
  plan.certificates = [];
  plan.secret_dirs = [];
  spec.volumes = (spec.volumes ?? []).map((v) => {
    const host = (path) => ({ name: v.name, hostPath: { path, type: "Directory" } });
    if (v.emptyDir) return host(`${volume}-${v.name}`);
    if (v.csi?.driver === "csi.cert-manager.io") {
      if (!certs) throw new Error(`volume ${v.name}: cert-manager's CSI driver needs --certs`);
      plan.certificates.push(csi_certificate(v, ctx, `${certs}/${name}`));
      return host(`${certs}/${name}`);
    }
    if (v.secret) {
      if (!secrets) throw new Error(`volume ${v.name}: Secret ${v.secret.secretName} needs --secrets`);
      plan.secret_dirs.push({ secret: v.secret.secretName, dir: `${secrets}/${v.secret.secretName}` });
      return host(`${secrets}/${v.secret.secretName}`);
    }
    return v;
  });
  spec.volumes.push({ name: [...claims][0], hostPath: { path: volume, type: "Directory" } });
  if (plan.fs_group !== null) {
    spec.securityContext.supplementalGroups = [
      ...new Set([...(spec.securityContext.supplementalGroups ?? []), plan.fs_group])];
  }
  for (const k of ["affinity", "topologySpreadConstraints", "serviceAccountName",
                   "automountServiceAccountToken", "terminationGracePeriodSeconds"]) {
    delete spec[k];
  }
  spec.hostname = name;
  spec.subdomain = set.spec.serviceName;
  spec.restartPolicy = "Never";  // an exit is a failure deploy/test must see, not retry
  const pod = { apiVersion: "v1", kind: "Pod",
                metadata: { name: plan.pod, labels, annotations: template.metadata.annotations }, spec };
  // podman keeps a ConfigMap volume under the ConfigMap's name after the pod is gone: the
  // prefix makes it this run's, so deploy/test can remove it and never reuse a stale one.
  const maps = structuredClone(objects.filter((o) => o.kind === "ConfigMap"));
  for (const v of spec.volumes) if (v.configMap) v.configMap.name = `${podPrefix}${v.configMap.name}`;
  for (const cm of maps) {
    cm.metadata.name = `${podPrefix}${cm.metadata.name}`;
    delete cm.metadata.namespace;
  }
  return { yaml: [...maps, pod].map((o) => stringify(o)).join("---\n"), plan };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ordinal, ...rest] = process.argv.slice(2);
  const opts = {};
  let plan_file = null;
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (flag === "--volume") opts.volume = value;
    else if (flag === "--zone") opts.zone = value;
    else if (flag === "--pod-prefix") opts.podPrefix = value;
    else if (flag === "--image") opts.image = value;
    else if (flag === "--certs") opts.certs = value;
    else if (flag === "--secrets") opts.secrets = value;
    else if (flag === "--plan") plan_file = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  const { yaml, plan } = pod_for(parse(readFileSync(file, "utf8")), Number(ordinal), opts);
  if (plan_file) writeFileSync(plan_file, JSON.stringify(plan, null, 2));
  process.stdout.write(yaml);
}
