/**
 * The chart renders, with default values and with each optional feature on,
 * into objects the Kubernetes API accepts (unknown field names included), and
 * the DaemonSet keeps the least-privilege promises of docs/security.md.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Container } from "kubernetes-types/core/v1.js";
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import { CONDITION_TYPES } from "../../src/types.js";
import { findObject, REPO, renderChart, type K8sObject, type Rendered, type Values } from "../support/helm.js";
import { strictFieldProblems, validateObjects } from "../support/k8s-schema.js";

const ADMISSION_POLICY = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";

const FEATURES: Array<[string, Values]> = [
  ["default values", {}],
  ["ServiceMonitor, PrometheusRule and dashboard", { serviceMonitor: { enabled: true, labels: { release: "prom" }, relabelings: [{ action: "labeldrop", regex: "pod" }], metricRelabelings: [{ action: "drop", sourceLabels: ["__name__"], regex: "nodejs_.*" }] }, prometheusRule: { enabled: true, runbookBaseURL: "https://docs.example.org/runbooks/" }, dashboard: { enabled: true } }],
  ["PodMonitor", { podMonitor: { enabled: true } }],
  ["privileged, pinned digest, pull secrets, extras", { privileged: true, image: { digest: `sha256:${"b".repeat(64)}` }, imagePullSecrets: [{ name: "regcred" }], extraArgs: ["--log-level=debug"], extraEnv: [{ name: "TZ", value: "UTC" }], hostRootFsMount: { enabled: false }, hostPaths: { containerdConfig: { enabled: true, path: "/etc/containerd", type: "Directory" } }, podAnnotations: { a: "b" }, podLabels: { team: "infra" }, commonLabels: { owner: "sre" }, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] }] } } } }],
  ["no host network, no service, no hook, existing account", { hostNetwork: false, service: { enabled: false }, cleanupHook: { enabled: false }, serviceAccount: { create: false, name: "node-doctor-sa" }, rbac: { create: false } }],
  ["the hostPaths instead of the node's /", { hostRootFsMount: { enabled: false } }],
  ["the hostPaths, every one off", { hostRootFsMount: { enabled: false }, hostPaths: Object.fromEntries(["proc", "sys", "kubeletPki", "kubeletConfig", "kubeletRoot", "kubernetes", "systemdConfig", "systemdRun", "runtimeSocket", "runtimeRoot", "cniConfig", "cniBin", "journal", "dbus"].map((k) => [k, { enabled: false }])) }],
];

function daemonSetOf(rendered: Rendered): DaemonSet {
  return findObject(rendered.objects, "DaemonSet") as unknown as DaemonSet;
}

function agentContainer(ds: DaemonSet): Container {
  const container = ds.spec?.template.spec?.containers.find((c) => c.name === "node-doctor");
  assert.ok(container, "the DaemonSet has the node-doctor container");
  return container;
}

describe("chart renders valid Kubernetes objects", () => {
  for (const [name, values] of FEATURES) {
    it(`with ${name}`, async () => {
      const rendered = await renderChart(values, { apiVersions: ["monitoring.coreos.com/v1", ADMISSION_POLICY] });
      assert.ok(rendered.objects.length > 0);
      assert.deepEqual(await validateObjects(rendered.objects), []);
      const names = rendered.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
      assert.equal(new Set(names).size, names.length, `no duplicate objects: ${names.join(", ")}`);
    });
  }

  it("the validation catches a misspelt field, a wrong type and a missing required field", async () => {
    const rendered = await renderChart({});
    const ds = structuredClone(findObject(rendered.objects, "DaemonSet")) as K8sObject & { spec: { template: { spec: { containers: Array<Record<string, unknown>>; hostNetwork: unknown } } } };
    const container = ds.spec.template.spec.containers[0] as Record<string, unknown>;
    container["securityContxt"] = container["securityContext"];
    delete container["securityContext"];
    ds.spec.template.spec.hostNetwork = "true";
    delete container["name"];
    const problems = (await validateObjects([ds])).join("\n");
    assert.match(problems, /'"securityContxt"' does not exist in type 'IContainer'/);
    assert.match(problems, /hostNetwork must be boolean/);
    assert.match(problems, /must have required property name/);
  });

  it("the strict check reads custom resources too", () => {
    const monitor = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x" }, spec: { selector: {}, endpoints: [{ port: "metrics", honourLabels: true }] } };
    assert.match(strictFieldProblems([monitor]).join("\n"), /'"honourLabels"' does not exist/);
  });

  it("serviceMonitor and podMonitor together are refused with a clear message", async () => {
    await assert.rejects(renderChart({ serviceMonitor: { enabled: true }, podMonitor: { enabled: true } }), /enable one, or every agent is scraped twice/);
  });

  it("NOTES.txt tells how to see the conditions and the metrics", async () => {
    const { notes } = await renderChart({ serviceMonitor: { enabled: true } });
    assert.match(notes, /kubectl describe node <node>/);
    for (const type of CONDITION_TYPES) assert.match(notes, new RegExp(`@\\.type=="${type}"`));
    assert.match(notes, /node-doctor check --host-root=\/host/);
    assert.match(notes, /curl -s localhost:9101\/metrics/);
    assert.match(notes, /ServiceMonitor node-doctor \(job="node-doctor"\)/);
  });

  it("the dashboard ConfigMap holds Grafana JSON under the sidecar's label", async () => {
    const rendered = await renderChart({ dashboard: { enabled: true } });
    const configMap = findObject(rendered.objects, "ConfigMap", "-dashboard");
    assert.equal(configMap.metadata.labels?.["grafana_dashboard"], "1");
    const dashboard = JSON.parse((configMap["data"] as Record<string, string>)["node-doctor.json"] ?? "") as { title: string; panels: unknown[] };
    assert.equal(dashboard.title, "node-doctor");
    assert.ok(dashboard.panels.length > 0);
  });

  it("names follow the release", async () => {
    const rendered = await renderChart({}, { release: "nd", namespace: "monitoring" });
    const ds = findObject(rendered.objects, "DaemonSet");
    assert.equal(ds.metadata.name, "nd-node-doctor");
    assert.equal(ds.metadata.namespace, "monitoring");
    const binding = findObject(rendered.objects, "ClusterRoleBinding", "nd-node-doctor") as unknown as { subjects: Array<{ name: string; namespace: string }> };
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "nd-node-doctor", namespace: "monitoring" }]);
  });
});

describe("DaemonSet policy", () => {
  let rendered: Rendered;
  let ds: DaemonSet;
  before(async () => {
    rendered = await renderChart({});
    ds = daemonSetOf(rendered);
  });

  it("is not privileged, drops every capability, has a read-only root and RuntimeDefault seccomp", () => {
    const sc = agentContainer(ds).securityContext;
    assert.equal(sc?.privileged, false);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.deepEqual(sc?.capabilities, { drop: ["ALL"] });
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.runAsUser, 0, "uid 0: kubelet's PKI files are root 0600");
    assert.equal(sc?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(ds.spec?.template.spec?.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(ds.spec?.template.spec?.hostPID, undefined);
    assert.equal(ds.spec?.template.spec?.hostIPC, undefined);
  });

  it("mounts the node's / read-only at /host following the node's mounts, and /proc, /sys and /run read-only over it", () => {
    const spec = ds.spec?.template.spec;
    const container = agentContainer(ds);
    const hostVolumes = new Map((spec?.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath]));
    assert.deepEqual([...hostVolumes.values()].map((h) => [h?.path, h?.type]).sort(), [["/", "Directory"], ["/proc", "Directory"], ["/run", "Directory"], ["/sys", "Directory"]]);
    const mounts = (container.volumeMounts ?? []).filter((m) => hostVolumes.has(m.name));
    assert.deepEqual(
      mounts.map((m) => [hostVolumes.get(m.name)?.path, m.mountPath, m.readOnly, m.mountPropagation ?? m.recursiveReadOnly]),
      [
        ["/", "/host", true, "HostToContainer"],
        ["/proc", "/host/proc", true, "IfPossible"],
        ["/run", "/host/run", true, "HostToContainer"],
        ["/sys", "/host/sys", true, "IfPossible"],
      ],
      "a parent before what is under it; the kernel's filesystems recursively read-only, the rest following the node",
    );
    for (const mount of container.volumeMounts ?? []) {
      assert.equal(mount.readOnly, true, `${mount.name} is read-only`);
      assert.notEqual(mount.mountPropagation, "Bidirectional", "no propagation back to the host");
    }
  });

  it("with hostRootFsMount off, mounts the hostPaths read-only under /host, following the node's mounts", async () => {
    const narrow = daemonSetOf(await renderChart({ hostRootFsMount: { enabled: false } }));
    const hostVolumes = new Map((narrow.spec?.template.spec?.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath?.path ?? ""]));
    const mounts = agentContainer(narrow).volumeMounts ?? [];
    for (const [name, path] of hostVolumes) {
      const mount = mounts.find((m) => m.name === name);
      assert.equal(mount?.mountPath, `/host${path}`, `${name} is mounted at /host${path}`);
      assert.equal(mount?.readOnly, true);
      assert.equal(mount?.mountPropagation ?? mount?.recursiveReadOnly, ["/proc", "/sys"].includes(path) ? "IfPossible" : "HostToContainer", path);
    }
    assert.deepEqual([...hostVolumes.values()].sort(), [
      "/etc/cni", "/etc/kubernetes", "/etc/systemd", "/opt/cni/bin", "/proc", "/run/containerd", "/run/dbus", "/run/systemd",
      "/sys", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/journal",
    ]);
    assert.ok(![...(narrow.spec?.template.spec?.volumes ?? [])].some((v) => v.hostPath?.type?.endsWith("OrCreate")), "nothing is created on the node");
  });

  it("mounts kubelet's pki and config.yaml on their own only when kubelet's root is not mounted", async () => {
    const narrow = daemonSetOf(await renderChart({ hostRootFsMount: { enabled: false } }));
    const paths = (agentContainer(narrow).volumeMounts ?? []).map((m) => m.mountPath);
    assert.ok(paths.includes("/host/var/lib/kubelet"));
    assert.ok(!paths.some((p) => p.startsWith("/host/var/lib/kubelet/")), "already visible under /host/var/lib/kubelet");
    const narrower = daemonSetOf(await renderChart({ hostRootFsMount: { enabled: false }, hostPaths: { kubeletRoot: { enabled: false } } }));
    const volumes = (narrower.spec?.template.spec?.volumes ?? []).map((v) => [v.hostPath?.path, v.hostPath?.type]);
    assert.deepEqual(volumes.filter(([p]) => p?.startsWith("/var/lib/kubelet")), [["/var/lib/kubelet/config.yaml", "File"], ["/var/lib/kubelet/pki", "Directory"]]);
    const mounts = (agentContainer(narrower).volumeMounts ?? []).map((m) => m.mountPath);
    assert.ok(mounts.includes("/host/var/lib/kubelet/pki") && mounts.includes("/host/var/lib/kubelet/config.yaml"));
  });

  it("mounts a parent path before its children", async () => {
    const other = daemonSetOf(await renderChart({ hostRootFsMount: { enabled: false }, hostPaths: { journal: { path: "/var/lib/kubelet/logs" }, kubeletPki: { path: "/var/lib/kubelet-pki" } } }));
    const paths = (agentContainer(other).volumeMounts ?? []).map((m) => m.mountPath);
    assert.ok(!paths.includes("/host/var/lib/kubelet/logs"), "inside kubeletRoot");
    assert.ok(paths.includes("/host/var/lib/kubelet-pki"), "a sibling with a common prefix is not inside");
    assert.deepEqual(paths.filter((p) => p.startsWith("/host/")), [...paths.filter((p) => p.startsWith("/host/"))].sort());
  });

  it("tolerates NoSchedule and NoExecute taints (every taint)", () => {
    const tolerations = ds.spec?.template.spec?.tolerations ?? [];
    const tolerates = (effect: string) => tolerations.some((t) => t.operator === "Exists" && !t.key && (!t.effect || t.effect === effect));
    assert.ok(tolerates("NoSchedule"));
    assert.ok(tolerates("NoExecute"));
  });

  it("is system-node-critical, on the host network with ClusterFirstWithHostNet, with NODE_NAME from the downward API", () => {
    const spec = ds.spec?.template.spec;
    assert.equal(spec?.priorityClassName, "system-node-critical");
    assert.equal(spec?.hostNetwork, true);
    assert.equal(spec?.dnsPolicy, "ClusterFirstWithHostNet");
    const env = agentContainer(ds).env ?? [];
    assert.deepEqual(env.find((e) => e.name === "NODE_NAME")?.valueFrom, { fieldRef: { fieldPath: "spec.nodeName" } });
  });

  it("rolls out with a configurable maxUnavailable and no surge", async () => {
    assert.equal(ds.spec?.updateStrategy?.type, "RollingUpdate");
    assert.equal(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, "10%");
    assert.equal(ds.spec?.updateStrategy?.rollingUpdate?.maxSurge, undefined, "two agents on a node would both bind the host port");
    const other = daemonSetOf(await renderChart({ updateStrategy: { maxUnavailable: 3 } }));
    assert.equal(other.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, 3);
  });

  it("runs the agent with --host-root=/host and probes /healthz and /readyz on the metrics port", () => {
    const container = agentContainer(ds);
    assert.equal(container.command, undefined, "the image's entrypoint (node with the agent's V8 flags) is kept");
    assert.deepEqual(container.args?.slice(0, 2), ["run", "--host-root=/host"]);
    assert.ok(container.args?.includes("--listen=0.0.0.0:9101"));
    assert.deepEqual(container.ports, [{ name: "metrics", containerPort: 9101, protocol: "TCP" }]);
    assert.equal(container.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(container.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(container.livenessProbe?.httpGet?.port, "metrics");
  });

  it("asks for the memory docs/performance.md measured, with headroom up to the limit", async () => {
    const performance = await readFile(join(REPO, "docs/performance.md"), "utf8");
    const measured = Number(/\| node-doctor \(bundled\) \| ([0-9.]+) \|/.exec(performance)?.[1]);
    assert.ok(measured > 0, "docs/performance.md has the bundled agent's RSS");
    const mebibytes = (q: string | number | undefined) => Number(/^(\d+)Mi$/.exec(String(q))?.[1]);
    const resources = agentContainer(ds).resources;
    const request = mebibytes(resources?.requests?.["memory"]);
    const limit = mebibytes(resources?.limits?.["memory"]);
    assert.ok(request >= measured, `memory request ${request}Mi covers the measured ${measured} MiB`);
    assert.ok(limit >= 72 * 1.5, `memory limit ${limit}Mi leaves at least half again the 72 MiB budget`);
    assert.ok(resources?.requests?.["cpu"], "a CPU request, so the scheduler counts the agent");
  });

  it("privileged is an opt-in value that also allows escalation (the API rejects privileged without it)", async () => {
    const sc = agentContainer(daemonSetOf(await renderChart({ privileged: true }))).securityContext;
    assert.equal(sc?.privileged, true);
    assert.equal(sc?.allowPrivilegeEscalation, true);
    assert.deepEqual(sc?.capabilities, { drop: ["ALL"] });
  });

  it("turns a host path off and moves one", async () => {
    const other = daemonSetOf(await renderChart({ hostRootFsMount: { enabled: false }, hostPaths: { dbus: { enabled: false }, runtimeSocket: { path: "/var/run/crio" } } }));
    const paths = (other.spec?.template.spec?.volumes ?? []).map((v) => v.hostPath?.path).filter(Boolean);
    assert.ok(!paths.includes("/run/dbus"));
    assert.ok(paths.includes("/var/run/crio"));
    assert.ok((agentContainer(other).volumeMounts ?? []).some((m) => m.mountPath === "/host/var/run/crio"));
  });

  it("refuses two host paths with the same path", async () => {
    await assert.rejects(renderChart({ hostRootFsMount: { enabled: false }, hostPaths: { journal: { path: "/proc" } } }), /hostPaths\.journal\.path and hostPaths\.proc\.path are both \/proc|hostPaths\.proc\.path and hostPaths\.journal\.path are both \/proc/);
  });
});

describe("RBAC", () => {
  function rulesOf(role: K8sObject): string[] {
    return ((role as unknown as ClusterRole).rules ?? []).flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g || "core"}/${res}:${v}`))),
    ).sort();
  }

  it("the agent's ClusterRole is exactly the minimum", async () => {
    const rendered = await renderChart({});
    assert.deepEqual(rulesOf(findObject(rendered.objects, "ClusterRole", "node-doctor")), [
      "coordination.k8s.io/leases:get",
      "core/events:create",
      "core/events:patch",
      "core/nodes/status:patch",
      "core/nodes:get",
      "core/services:get",
      "discovery.k8s.io/endpointslices:get",
    ]);
    // The network check reads the API server's own Service and EndpointSlice, and nothing else of their kinds.
    const role = findObject(rendered.objects, "ClusterRole", "node-doctor") as unknown as ClusterRole;
    for (const rule of role.rules ?? []) if (rule.resources?.some((r) => r === "services" || r === "endpointslices")) assert.deepEqual(rule.resourceNames, ["kubernetes"]);
  });

  it("the uninstall hook alone lists nodes, with an account that exists only while it runs", async () => {
    const rendered = await renderChart({});
    assert.deepEqual(rulesOf(findObject(rendered.objects, "ClusterRole", "-cleanup")), ["core/nodes/status:patch", "core/nodes:get", "core/nodes:list"]);
    for (const kind of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Job"]) {
      const object = findObject(rendered.objects, kind, "-cleanup");
      assert.equal(object.metadata.annotations?.["helm.sh/hook"], "pre-delete", `${kind} is a pre-delete hook`);
    }
    const job = findObject(rendered.objects, "Job", "-cleanup") as unknown as Job;
    const container = job.spec?.template.spec?.containers[0];
    assert.deepEqual(container?.args, ["conditions", "remove", "--all-nodes"]);
    assert.equal(job.spec?.template.spec?.serviceAccountName, "node-doctor-cleanup");
    assert.equal(job.spec?.template.spec?.securityContext?.runAsNonRoot, true, "the cleanup reads no host files: it needs no root");
    assert.deepEqual(container?.securityContext?.capabilities, { drop: ["ALL"] });
  });

  it("where the cluster has ValidatingAdmissionPolicy, the agent may write only about its own node", async () => {
    const rendered = await renderChart({}, { apiVersions: [ADMISSION_POLICY], release: "nd", namespace: "ops" });
    const policy = findObject(rendered.objects, "ValidatingAdmissionPolicy") as unknown as {
      metadata: { name: string };
      spec: { failurePolicy: string; matchConditions: Array<{ expression: string }>; matchConstraints: { resourceRules: Array<{ resources: string[]; operations: string[] }> }; validations: Array<{ expression: string }> };
    };
    assert.equal(policy.spec.failurePolicy, "Fail");
    assert.deepEqual(policy.spec.matchConditions.map((c) => c.expression), ['request.userInfo.username == "system:serviceaccount:ops:nd-node-doctor"']);
    assert.deepEqual(policy.spec.matchConstraints.resourceRules.flatMap((r) => r.resources).sort(), ["events", "nodes/status"]);
    assert.match(policy.spec.validations[0]?.expression ?? "", /variables\.target == variables\.nodeName/);
    const binding = findObject(rendered.objects, "ValidatingAdmissionPolicyBinding") as unknown as { spec: { policyName: string; validationActions: string[] } };
    assert.deepEqual(binding.spec, { policyName: policy.metadata.name, validationActions: ["Deny"] });
    const without = await renderChart({});
    assert.ok(!without.objects.some((o) => o.kind.startsWith("ValidatingAdmissionPolicy")), "not rendered where the API does not exist");
    const off = await renderChart({ admissionPolicy: { enabled: false } }, { apiVersions: [ADMISSION_POLICY] });
    assert.ok(!off.objects.some((o) => o.kind.startsWith("ValidatingAdmissionPolicy")), "admissionPolicy.enabled=false turns it off");
  });

  it("no RBAC objects when rbac.create is false", async () => {
    const rendered = await renderChart({ rbac: { create: false }, cleanupHook: { enabled: false } });
    assert.deepEqual(rendered.objects.filter((o) => o.kind.startsWith("ClusterRole")), []);
  });
});
