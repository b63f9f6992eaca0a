/**
 * The chart's `customChecks` and `customPlugins`: values.schema.json rejects
 * a bad entry before anything renders (as `helm install` does), what it
 * accepts renders into a configuration the agent's own loader accepts, and
 * plugins are mounted executable beside it in a pod that reaps their
 * children.
 */
import assert from "node:assert/strict";
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { chartProbeSettings } from "../../scripts/chart-schema.js";
import { probeSettings } from "../../src/checks/custom/probes.js";
import { loadConfig } from "../../src/config/config.js";
import { configSchema } from "../../src/main/agent.js";
import { defaultValues, describeSchemaError, findObject, mergeValues, renderChart, valuesValidator, type K8sObject, type Values } from "../support/helm.js";
import { validateObjects } from "../support/k8s-schema.js";
import { readOwnFile } from "../../src/node/host.js";

const nfs = { name: "data-mount", condition: "NfsDataMountMissing", probe: { kind: "file", path: "/proc/1/mounts", matches: "^\\S+ /mnt/data nfs4? " } };
const plugin = { name: "scratch", condition: "ScratchMissing", probe: { kind: "npd-plugin", path: "/etc/node-doctor/plugins/scratch.sh" } };

async function schemaErrors(overrides: Values): Promise<string[]> {
  const validate = await valuesValidator();
  return validate(mergeValues(await defaultValues(), overrides)).map(describeSchemaError);
}

async function renderedConfig(overrides: Values) {
  const rendered = await renderChart(overrides);
  const text = (findObject(rendered.objects, "ConfigMap", "node-doctor")["data"] as Record<string, string>)["config.yaml"] ?? "";
  const dir = await mkdtemp(join(tmpdir(), "nd-chart-custom-"));
  try {
    await writeFile(join(dir, "config.yaml"), text);
    return { rendered, config: await loadConfig(configSchema, {}, { configFile: join(dir, "config.yaml"), hostRoot: "/host" }, readOwnFile) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function podSpec(objects: readonly K8sObject[]): Record<string, unknown> {
  return (findObject(objects, "DaemonSet")["spec"] as { template: { spec: Record<string, unknown> } }).template.spec;
}

describe("chart: customChecks", () => {
  it("accepts every example of docs/custom-checks.md", async () => {
    const doc = await readFile(new URL("../../docs/custom-checks.md", import.meta.url), "utf8");
    const entries = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m) => (parse(m[1] as string) as { checks?: { custom?: unknown[] } }).checks?.custom ?? []);
    assert.ok(entries.length >= 6);
    // Each example alone: they reuse names across the page.
    for (const entry of entries) assert.deepEqual(await schemaErrors({ customChecks: [entry] }), [], JSON.stringify(entry));
  });

  const rejected: Array<[string, unknown, string]> = [
    ["an unknown kind", { ...nfs, probe: { kind: "nfs", path: "/x" } }, "/customChecks/0/probe/kind: must be one of"],
    ["kubelet's condition type", { ...nfs, condition: "Ready" }, "/customChecks/0/condition: must NOT be valid"],
    ["a built-in condition type", { ...nfs, condition: "DiskSpaceLow" }, "/customChecks/0/condition: must NOT be valid"],
    ["no probe", { name: "x", condition: "XBroken" }, "/customChecks/0: must have required property 'probe'"],
    ["an unknown key of a probe", { ...nfs, probe: { kind: "file", path: "/x", mods: "0600" } }, "/customChecks/0/probe: unknown key mods"],
    ["another kind's setting", { ...nfs, probe: { kind: "tcp", host: "127.0.0.1", port: 22, path: "/x" } }, "/customChecks/0/probe: unknown key path"],
    ["a template naming an unknown field", { ...nfs, problem: { message: "{{.pth}} gone" } }, "/customChecks/0/problem/message: must match pattern"],
    ["a template calling a function", { ...nfs, problem: { remedy: '{{ printf "%s" .path }}' } }, "/customChecks/0/problem/remedy: must match pattern"],
    ["a name that is not a DNS label", { ...nfs, name: "Data_Mount" }, "/customChecks/0/name: must match pattern"],
    ["a bare octal mode", { ...nfs, probe: { kind: "file", path: "/x", mode: 600 } }, "/customChecks/0/probe/mode: must be string"],
    ["a relative plugin path", { ...plugin, probe: { kind: "npd-plugin", path: "scratch.sh" } }, "/customChecks/0/probe/path: must match pattern"],
    ["an ActiveState systemd does not have", { ...nfs, probe: { kind: "unit", unit: "x.service", activeState: ["running"] } }, "/customChecks/0/probe/activeState/0: must be one of"],
  ];
  for (const [name, entry, expected] of rejected) {
    it(`rejects ${name} at install time`, async () => {
      const errors = await schemaErrors({ customChecks: [entry] });
      assert.ok(
        errors.some((e) => e.startsWith(expected)),
        `expected ${JSON.stringify(expected)} among ${JSON.stringify(errors)}`,
      );
    });
  }

  it("lists, per probe kind, exactly the settings the agent has (the schema is generated from them: npm run docs)", () => {
    const agent = Object.fromEntries(Object.entries(probeSettings.variants).map(([kind, v]) => [kind, Object.keys((v as unknown as { shape: object }).shape)]));
    assert.deepEqual(chartProbeSettings(), agent);
  });

  it("renders into checks.custom of a configuration the agent accepts; with config.checks.custom too, refuses to render", async () => {
    const { config } = await renderedConfig({ customChecks: [nfs] });
    assert.deepEqual(
      config.checks.custom.map((c) => [c.name, c.condition, c.probe.kind]),
      [["data-mount", "NfsDataMountMissing", "file"]],
    );
    assert.equal(config.checks.disk.enabled, true, "the rest of config is kept");
    await assert.rejects(renderChart({ customChecks: [nfs], config: { checks: { custom: [nfs] } } }), /customChecks and config\.checks\.custom are both set/);
    const plain = podSpec((await renderChart({ customChecks: [nfs] })).objects);
    assert.equal(plain["shareProcessNamespace"], undefined, "no plugin, no shared process namespace");
  });

  it("customPlugins: mounted executable under /etc/node-doctor/plugins; an npd-plugin check shares the pod's process namespace", async () => {
    const script = '#!/bin/sh\nif [ -d "$NODE_DOCTOR_HOST_ROOT/mnt/scratch" ]; then echo "scratch is there"; exit 0; fi\necho "no /mnt/scratch"; exit 1\n';
    const { rendered, config } = await renderedConfig({ customChecks: [plugin], customPlugins: { "scratch.sh": script } });
    assert.equal(config.checks.custom[0]?.probe.kind, "npd-plugin");
    const plugins = findObject(rendered.objects, "ConfigMap", "node-doctor-plugins");
    assert.equal((plugins["data"] as Record<string, string>)["scratch.sh"], script);
    const spec = podSpec(rendered.objects);
    assert.equal(spec["shareProcessNamespace"], true);
    const volume = (spec["volumes"] as Array<{ name: string; projected?: { sources: Array<{ configMap: { name: string; items?: unknown[] } }> } }>).find((v) => v.name === "config");
    assert.deepEqual(volume?.projected?.sources.map((s) => s.configMap.items ?? s.configMap.name), [
      "node-doctor",
      [{ key: "scratch.sh", path: "plugins/scratch.sh", mode: 0o555 }],
    ]);
    assert.deepEqual(await validateObjects(rendered.objects), [], "valid Kubernetes objects");
  });
});
