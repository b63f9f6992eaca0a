/**
 * The chart's repair switches (docs/remediation.md, docs/security.md): off by
 * default; `localRepair.enabled` adds exactly the system bus socket and
 * kubelet's PKI directory writable, POD_NAMESPACE, a Role for the slot Leases
 * and listing Nodes — no capability, no privilege; `nodeHealthCheck.enabled`
 * renders a NodeHealthCheck whose conditions medik8s' matcher
 * (test/support/repairers.ts) applies to what node-doctor writes, deciding to
 * remediate exactly on the documented cases.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node } from "kubernetes-types/core/v1.js";
import type { ClusterRole, Role } from "kubernetes-types/rbac/v1.js";
import { loadConfig, overridesFromEnvironment } from "../../src/config/config.js";
import { configSchema } from "../../src/main/agent.js";
import { readOwnFile } from "../../src/node/host.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../support/conditions-harness.js";
import { findObject, renderChart, type K8sObject } from "../support/helm.js";
import { validateObjects } from "../support/k8s-schema.js";
import { nhcDecides, type NhcSpec } from "../support/repairers.js";

const MIN = 60_000;
const SNR = {
  apiVersion: "self-node-remediation.medik8s.io/v1alpha1",
  kind: "SelfNodeRemediationTemplate",
  namespace: "medik8s",
  name: "self-node-remediation-automatic-strategy-template",
};

function agentOf(objects: readonly K8sObject[]) {
  const ds = findObject(objects, "DaemonSet") as unknown as DaemonSet;
  const spec = ds.spec?.template.spec;
  const container = spec?.containers[0];
  assert.ok(spec && container);
  return { spec, container };
}

/** The agent's ClusterRole (the cleanup hook has its own). */
function agentRole(objects: readonly K8sObject[]): ClusterRole {
  const role = objects.find((o) => o.kind === "ClusterRole" && !/cleanup/.test(o.metadata.name));
  assert.ok(role);
  return role as unknown as ClusterRole;
}

describe("chart: local repair and the NodeHealthCheck", () => {
  it("are off by default: nothing writable, no Lease rights, no NodeHealthCheck", async () => {
    const { objects } = await renderChart({});
    const { spec, container } = agentOf(objects);
    assert.ok(
      (container.volumeMounts ?? []).every((m) => m.readOnly === true),
      "every mount read-only",
    );
    assert.ok(!(container.env ?? []).some((e) => e.name === "POD_NAMESPACE"));
    assert.ok(!(spec.volumes ?? []).some((v) => v.name.startsWith("repair-")));
    assert.equal(
      objects.filter((o) => o.kind === "Role" || o.kind === "NodeHealthCheck").length,
      0,
    );
    const role = agentRole(objects);
    assert.deepEqual(role.rules?.find((r) => r.resources?.includes("nodes"))?.verbs, ["get"]);
    assert.ok(!role.rules?.some((r) => r.resources?.includes("leases") && r.verbs.some((v) => v !== "get")));
  });

  it("localRepair adds exactly the bus socket and the PKI directory writable, POD_NAMESPACE and the Lease Role; the agent is as confined otherwise", async () => {
    const base = agentOf((await renderChart({})).objects);
    const { objects } = await renderChart({ localRepair: { enabled: true } });
    assert.deepEqual(await validateObjects(objects), []);
    const { spec, container } = agentOf(objects);
    const writable = (container.volumeMounts ?? []).filter((m) => m.readOnly !== true);
    assert.deepEqual(
      writable.map((m) => m.mountPath),
      ["/host/run/dbus/system_bus_socket", "/host/var/lib/kubelet/pki"],
    );
    const volumes = Object.fromEntries((spec.volumes ?? []).filter((v) => v.name.startsWith("repair-")).map((v) => [v.hostPath?.path, v.hostPath?.type]));
    assert.deepEqual(volumes, { "/run/dbus/system_bus_socket": "Socket", "/var/lib/kubelet/pki": "Directory" });
    assert.deepEqual(container.securityContext, base.container.securityContext, "no capability, no privilege added");
    assert.deepEqual(container.securityContext?.capabilities, { drop: ["ALL"] });
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.env?.find((e) => e.name === "POD_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace");
    const role = findObject(objects, "Role", "-repair") as unknown as Role;
    assert.deepEqual(role.rules, [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "create", "update", "delete"] }]);
    assert.ok(findObject(objects, "RoleBinding", "-repair"));
    const cluster = agentRole(objects);
    assert.deepEqual(cluster.rules?.find((r) => r.resources?.includes("nodes"))?.verbs, ["get", "list"]);

    // The configuration the agent loads: repair on, a dry run, 10 % of the nodes.
    const text = (findObject(objects, "ConfigMap", "node-doctor")["data"] as Record<string, string>)["config.yaml"] ?? "";
    const dir = await mkdtemp(join(tmpdir(), "node-doctor-chart-repair-"));
    try {
      await writeFile(join(dir, "config.yaml"), text);
      const config = await loadConfig(configSchema, overridesFromEnvironment({ NODE_NAME: "node-a" }), { configFile: join(dir, "config.yaml") }, readOwnFile);
      assert.equal(config.repair.enabled, true);
      assert.equal(config.repair.dryRun, true);
      assert.equal(config.repair.budget.maxPercent, 10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const off = await renderChart({ localRepair: { enabled: true, dryRun: false, maxPercent: 5 } });
    assert.match((findObject(off.objects, "ConfigMap", "node-doctor")["data"] as Record<string, string>)["config.yaml"] ?? "", /dryRun: false[\s\S]*maxPercent: 5|maxPercent: 5[\s\S]*dryRun: false/);
  });

  it("nodeHealthCheck needs a remediation template", async () => {
    await assert.rejects(renderChart({ nodeHealthCheck: { enabled: true } }), /nodeHealthCheck\.remediationTemplate is required/);
  });

  describe("the NodeHealthCheck's matcher on what node-doctor writes", () => {
    let api: FakeApiServer;
    let nhc: NhcSpec;
    before(async () => {
      api = await FakeApiServer.start();
      const { objects } = await renderChart({ nodeHealthCheck: { enabled: true, remediationTemplate: SNR } });
      const object = findObject(objects, "NodeHealthCheck");
      assert.equal(object.apiVersion, "remediation.medik8s.io/v1alpha1");
      const spec = object["spec"] as NhcSpec & { remediationTemplate: unknown; selector: unknown };
      assert.deepEqual(spec.remediationTemplate, SNR);
      assert.deepEqual(spec.selector, { matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" }] });
      nhc = spec;
    });
    after(() => api.close());

    async function sickFor(node: string, condition: "KernelUnhealthy" | "KubeletCertificateInvalid" | "ClockSkewed", reason: string, ms: number) {
      api.seedNode(node);
      const h = await conditionsHarness(api, [scriptedCheck(node, condition, () => [finding(condition, "critical", reason, "m")])], { nodeName: node });
      void h.scheduler.start();
      await h.advance(ms);
      const now = h.clock.now();
      await h.stop();
      return now;
    }

    it("remediates a kernel lockup held 10 minutes, not before; never for a certificate or the clock, which a reboot does not fix", async () => {
      const early = await sickFor("nhc-1", "KernelUnhealthy", "SoftLockup", 8 * MIN);
      const late = await sickFor("nhc-2", "KernelUnhealthy", "SoftLockup", 12 * MIN);
      const cert = await sickFor("nhc-3", "KubeletCertificateInvalid", "ClientCertificateNotYetValid", 120 * MIN);
      const clock = await sickFor("nhc-4", "ClockSkewed", "ApiServerOffsetHigh", 120 * MIN);
      for (let i = 0; i < 6; i++) api.seedNode(`nhc-ok-${i}`);
      const selected = [...["nhc-1", "nhc-2", "nhc-3", "nhc-4"], ...Array.from({ length: 6 }, (_, i) => `nhc-ok-${i}`)].map((n) => api.node(n) as Node);
      const node = (name: string) => api.node(name) as Node;
      assert.deepEqual(nhcDecides(nhc, node("nhc-1"), selected, early), { unhealthy: false, remediate: false }, "8 minutes: within the duration");
      assert.deepEqual(nhcDecides(nhc, node("nhc-2"), selected, late), { unhealthy: true, remediate: true });
      assert.deepEqual(nhcDecides(nhc, node("nhc-3"), selected, cert), { unhealthy: false, remediate: false });
      assert.deepEqual(nhcDecides(nhc, node("nhc-4"), selected, clock), { unhealthy: false, remediate: false });
      // NHC's own breaker: with most of the pool unhealthy it holds.
      const pool = [node("nhc-2"), node("nhc-2"), node("nhc-ok-0")];
      assert.deepEqual(nhcDecides(nhc, node("nhc-2"), pool, late), { unhealthy: true, remediate: false });
    });
  });
});
