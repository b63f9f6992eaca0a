/**
 * The chart's values: values.schema.json accepts the documented shapes and
 * rejects wrong types and unknown keys with an error naming the key; the
 * README's table is generated from values.yaml; the ConfigMap rendered from
 * the values is a configuration the agent's own loader accepts.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../src/main/agent.js";
import { loadConfig, overridesFromEnvironment } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/schema.js";
import { valueRows, withValuesTable } from "../support/chart-readme.js";
import { CHART, defaultValues, describeSchemaError, findObject, mergeValues, readValuesFile, REPO, renderChart, valuesValidator, type Values } from "../support/helm.js";
import { validateObjects } from "../support/k8s-schema.js";
import { readOwnFile } from "../../src/node/host.js";

async function schemaErrors(overrides: Values): Promise<string[]> {
  const validate = await valuesValidator();
  return validate(mergeValues(await defaultValues(), overrides)).map(describeSchemaError);
}

describe("values.schema.json", () => {
  const valid: Array<[string, Values]> = [
    ["the defaults", {}],
    ["a pinned digest", { image: { digest: `sha256:${"a".repeat(64)}` } }],
    ["maxUnavailable as a count", { updateStrategy: { maxUnavailable: 2 } }],
    ["a host path moved (CRI-O)", { hostPaths: { runtimeSocket: { path: "/var/run/crio" }, runtimeRoot: { path: "/var/lib/containers/storage" } } }],
    ["a host path turned off", { hostPaths: { dbus: { enabled: false } } }],
    ["an extra host path (containerd's config, for the cgroup-driver rule)", { hostPaths: { containerdConfig: { enabled: true, path: "/etc/containerd", type: "Directory" } } }],
    ["monitoring on, with the selector label", { serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" }, interval: "1m" }, prometheusRule: { enabled: true, runbookBaseURL: "https://docs.example.org/runbooks/" } }],
    ["agent settings", { config: { logLevel: "debug", engine: { jitterRatio: 0.2 }, checks: { disk: { intervalSeconds: 60 } } } }],
    ["privileged opt-in", { privileged: true }],
    ["extra env from a field", { extraEnv: [{ name: "NODE_DOCTOR_LOG_LEVEL", value: "debug" }] }],
  ];
  for (const [name, overrides] of valid) {
    it(`accepts ${name}`, async () => {
      assert.deepEqual(await schemaErrors(overrides), []);
    });
  }

  const invalid: Array<[string, Values, string]> = [
    ["a misspelt top-level key", { prometheusRules: { enabled: true } }, "/: unknown key prometheusRules"],
    ["a misspelt nested key", { serviceMonitor: { intreval: "30s" } }, "/serviceMonitor: unknown key intreval"],
    ["a misspelt host path (an extra mount must say everything)", { hostPaths: { journl: { enabled: false } } }, "/hostPaths/journl: must have required property 'path'"],
    ["a port as a string", { port: "9101" }, "/port: must be integer"],
    ["a port out of range", { port: 70000 }, "/port: must be <= 65535"],
    ["privileged as a string", { privileged: "true" }, "/privileged: must be boolean"],
    ["a relative host path", { hostPaths: { proc: { path: "proc" } } }, '/hostPaths/proc/path: must match pattern "^/[^\\s]*$"'],
    ["an unknown hostPath type", { hostPaths: { proc: { type: "Dir" } } }, '/hostPaths/proc/type: must be one of ["","Directory","DirectoryOrCreate","File","FileOrCreate","Socket","CharDevice","BlockDevice"]'],
    ["a pull policy typo", { image: { pullPolicy: "IfNotPresnt" } }, '/image/pullPolicy: must be one of ["Always","IfNotPresent","Never"]'],
    ["a digest without its algorithm", { image: { digest: "abc" } }, '/image/digest: must match pattern "^(|sha256:[0-9a-f]{64})$"'],
    ["a scrape interval without unit", { serviceMonitor: { interval: "30" } }, '/serviceMonitor/interval: must match pattern "^([0-9]+(ms|s|m|h))+$"'],
    ["hostRoot in the agent config (the chart sets it)", { config: { hostRoot: "/" } }, "/config: unknown key hostRoot"],
    ["a memory limit with a typo", { resources: { limits: { memory: "128MB" } } }, "/resources/limits/memory: must match exactly one schema in oneOf"],
    ["a label value that is not a string", { podLabels: { tier: 1 } }, "/podLabels/tier: must be string"],
  ];
  for (const [name, overrides, expected] of invalid) {
    it(`rejects ${name}`, async () => {
      const errors = await schemaErrors(overrides);
      assert.ok(errors.includes(expected), `expected ${JSON.stringify(expected)} among ${JSON.stringify(errors)}`);
    });
  }

  it("rejects before rendering, as helm does", async () => {
    await assert.rejects(renderChart({ port: "x" }), /values don't meet the specifications of the schema\(s\): \/port: must be integer/);
  });
});

describe("Chart.yaml", () => {
  it("is what helm lint expects, and its appVersion is the package's version (the image tag the chart and kustomize use)", async () => {
    const chart = parseYaml(await readFile(join(CHART, "Chart.yaml"), "utf8")) as Record<string, unknown>;
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
    assert.equal(chart["apiVersion"], "v2");
    assert.equal(chart["name"], "node-doctor", "the chart's name is its directory's");
    assert.match(String(chart["version"]), /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, "SemVer 2");
    assert.equal(chart["appVersion"], pkg.version);
    assert.equal(chart["type"], "application");
    const kustomization = parseYaml(await readFile(join(REPO, "deploy/kustomization.yaml"), "utf8")) as { images: Array<{ name: string; newTag: string }> };
    assert.deepEqual(kustomization.images.map((i) => [i.name, i.newTag]), [["node-doctor", pkg.version]]);
    assert.match(await readFile(join(REPO, "Dockerfile"), "utf8"), new RegExp(`ARG VERSION=${pkg.version.replaceAll(".", "\\.")}\n`));
  });
});

describe("values files", () => {
  it("every example in charts/node-doctor/ci/ is accepted and renders valid objects", async () => {
    const files = (await readdir(join(CHART, "ci"))).filter((f) => f.endsWith("-values.yaml"));
    assert.ok(files.length >= 3, "examples exist");
    for (const file of files) {
      const values = await readValuesFile(join(CHART, "ci", file));
      assert.deepEqual(await schemaErrors(values), [], file);
      const rendered = await renderChart(values, { apiVersions: ["monitoring.coreos.com/v1"] });
      assert.deepEqual(await validateObjects(rendered.objects), [], file);
    }
  });

  it("every invalid file in test/charts/fixtures/invalid-values/ is rejected with the error its header expects", async () => {
    const dir = join(REPO, "test/charts/fixtures/invalid-values");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length >= 5);
    for (const file of files) {
      const text = await readFile(join(dir, file), "utf8");
      const expected = /^# expect: (.+)$/m.exec(text)?.[1];
      assert.ok(expected, `${file} has an "# expect:" line`);
      const errors = await schemaErrors(await readValuesFile(join(dir, file)));
      assert.ok(errors.includes(expected), `${file}: expected ${JSON.stringify(expected)} among ${JSON.stringify(errors)}`);
    }
  });
});

describe("chart README", () => {
  it("documents every key of values.yaml", async () => {
    const { undocumented } = valueRows(await readFile(join(CHART, "values.yaml"), "utf8"));
    assert.deepEqual(undocumented, [], "give each of these a `# --` comment in values.yaml");
  });

  it("has the values table generated from values.yaml", async () => {
    const readmePath = join(CHART, "README.md");
    const readme = await readFile(readmePath, "utf8");
    const expected = withValuesTable(readme, await readFile(join(CHART, "values.yaml"), "utf8"));
    if (process.env["UPDATE_GOLDEN"] === "1") await writeFile(readmePath, expected);
    assert.equal(readme, expected, "charts/node-doctor/README.md is out of date with values.yaml: regenerate with UPDATE_GOLDEN=1");
  });

  it("has a row for each top-level key of the schema", async () => {
    const schema = JSON.parse(await readFile(join(CHART, "values.schema.json"), "utf8")) as { properties: Record<string, unknown> };
    const readme = await readFile(join(CHART, "README.md"), "utf8");
    for (const key of Object.keys(schema.properties)) assert.match(readme, new RegExp(`\\| \`${key}[.\`]`), `README lacks ${key}`);
  });
});

describe("agent configuration from the chart", () => {
  async function loadRendered(overrides: Values) {
    const rendered = await renderChart(overrides);
    const configMap = findObject(rendered.objects, "ConfigMap", "node-doctor");
    const text = (configMap["data"] as Record<string, string>)["config.yaml"];
    assert.ok(text, "the ConfigMap holds config.yaml");
    const daemonSet = findObject(rendered.objects, "DaemonSet");
    const args = ((daemonSet["spec"] as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]?.args ?? []);
    const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
    assert.equal(flag("config"), "/etc/node-doctor/config.yaml");
    const dir = await mkdtemp(join(tmpdir(), "node-doctor-chart-config-"));
    try {
      const file = join(dir, "config.yaml");
      await writeFile(file, text);
      return await loadConfig(configSchema, overridesFromEnvironment({ NODE_NAME: "node-a" }), {
        configFile: file,
        ...(flag("host-root") ? { hostRoot: flag("host-root") } : {}),
        ...(flag("listen") ? { listen: flag("listen") } : {}),
      }, readOwnFile);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("the default values give a configuration the agent accepts", async () => {
    const config = await loadRendered({});
    assert.equal(config.hostRoot, "/host");
    assert.equal(config.listen, "0.0.0.0:9101");
    assert.equal(config.nodeName, "node-a");
    assert.equal(config.kubernetes.heartbeatSeconds, 600);
    assert.equal(config.checks.disk.enabled, true);
  });

  it("settings in values reach the agent", async () => {
    const config = await loadRendered({ port: 9200, config: { logLevel: "debug", checks: { disk: { intervalSeconds: 120, extraMounts: ["/var/lib/etcd"] } } } });
    assert.equal(config.listen, "0.0.0.0:9200");
    assert.equal(config.logLevel, "debug");
    assert.equal(config.checks.disk.intervalSeconds, 120);
    assert.deepEqual(config.checks.disk.extraMounts, ["/var/lib/etcd"]);
  });

  it("a setting the agent rejects is caught by the agent's loader with its key", async () => {
    await assert.rejects(loadRendered({ config: { checks: { disk: { intervalSeconds: 0 } } } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /checks\.disk\.intervalSeconds/);
      return true;
    });
  });

  it("values.yaml's config is the ConfigMap's config.yaml", async () => {
    const rendered = await renderChart({});
    const configMap = findObject(rendered.objects, "ConfigMap", "node-doctor");
    assert.deepEqual(parseYaml((configMap["data"] as Record<string, string>)["config.yaml"] ?? ""), (await defaultValues())["config"]);
  });
});
