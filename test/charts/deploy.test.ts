/**
 * deploy/: the plain manifests for users without Helm. node-doctor.yaml is
 * the chart rendered with default values (no Helm bookkeeping, no uninstall
 * hook), so the two cannot drift; the kustomize base renders with the real
 * kubectl and every object validates against the Kubernetes schemas.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import { findObject, parseManifests, REPO, renderChart, type K8sObject } from "../support/helm.js";
import { validateObjects } from "../support/k8s-schema.js";
import { runTool } from "../support/tools.js";

const GENERATED = join(REPO, "deploy/node-doctor.yaml");
const HEADER = `# Generated from charts/node-doctor with its default values (no uninstall hook:
# run \`node-doctor conditions remove --all-nodes\` before deleting, see
# docs/deploy.md). Do not edit: change the chart, then regenerate with
# UPDATE_GOLDEN=1 npx node --import tsx --test test/charts/deploy.test.ts
`;

/** Helm's bookkeeping has no place in plain manifests. */
function plain(object: K8sObject): K8sObject {
  const copy = structuredClone(object);
  const strip = (labels: Record<string, string> | undefined) => {
    if (!labels) return;
    delete labels["helm.sh/chart"];
    delete labels["app.kubernetes.io/managed-by"];
  };
  strip(copy.metadata.labels);
  const template = (copy as { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }).spec?.template;
  if (template?.metadata?.annotations) {
    delete template.metadata.annotations["checksum/config"];
    if (Object.keys(template.metadata.annotations).length === 0) delete template.metadata.annotations;
  }
  return copy;
}

async function generate(): Promise<string> {
  const rendered = await renderChart({ cleanupHook: { enabled: false } }, { release: "node-doctor", namespace: "node-doctor" });
  return HEADER + rendered.objects.map((o) => `---\n${stringify(plain(o), { lineWidth: 0 })}`).join("");
}

describe("deploy/ (plain manifests)", () => {
  it("node-doctor.yaml is the chart rendered with default values", async () => {
    const expected = await generate();
    if (process.env["UPDATE_GOLDEN"] === "1") await writeFile(GENERATED, expected);
    assert.equal(await readFile(GENERATED, "utf8"), expected, "deploy/node-doctor.yaml is out of date with the chart: regenerate with UPDATE_GOLDEN=1");
  });

  it("kubectl kustomize renders the base into valid objects in the node-doctor namespace", async () => {
    const result = await runTool("kubectl", ["kustomize", join(REPO, "deploy")], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    const objects = parseManifests(result.stdout, "kubectl kustomize deploy/");
    assert.deepEqual(await validateObjects(objects), []);
    const kinds = objects.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Namespace", "Service", "ServiceAccount"]);
    const namespace = findObject(objects, "Namespace");
    assert.equal(namespace.metadata.name, "node-doctor");
    assert.equal(namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"], "privileged", "host paths and host network need it");
    for (const o of objects) {
      if (["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind)) continue;
      assert.equal(o.metadata.namespace, "node-doctor", `${o.kind}/${o.metadata.name} is in node-doctor`);
    }
    const binding = findObject(objects, "ClusterRoleBinding") as unknown as { subjects: Array<{ namespace: string }> };
    assert.equal(binding.subjects[0]?.namespace, "node-doctor");
  });

  it("the kustomized DaemonSet is the chart's", async () => {
    const result = await runTool("kubectl", ["kustomize", join(REPO, "deploy")], { timeoutMs: 60_000 });
    const fromKustomize = findObject(parseManifests(result.stdout, "kustomize"), "DaemonSet") as unknown as DaemonSet;
    const fromChart = plain(findObject((await renderChart({})).objects, "DaemonSet")) as unknown as DaemonSet;
    assert.deepEqual(fromKustomize.spec, fromChart.spec);
  });
});
