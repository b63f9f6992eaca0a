/**
 * The alert rules: valid for the real promtool, unit-tested with promtool,
 * one alert per condition plus the agent's own, each with for/severity/summary/
 * description/runbook, only documented series, and the chart's PrometheusRule
 * renders exactly the same rules.
 */
import assert from "node:assert/strict";
import { copyFile, lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { CONDITION_TYPES } from "../../src/types.js";
import { CHART, findObject, REPO, renderChart } from "../support/helm.js";
import { runTool } from "../support/tools.js";

const RULES = join(REPO, "deploy/prometheus/node-doctor.rules.yaml");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

async function ruleFile(): Promise<RuleFile> {
  const value = parseYaml(await readFile(RULES, "utf8")) as RuleFile;
  assert.ok(Array.isArray(value.groups), "the rules file has groups");
  return value;
}

async function alerts(): Promise<Rule[]> {
  return (await ruleFile()).groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

/** Series names a PromQL expression reads: identifiers that are not functions, keywords or labels. */
export function seriesIn(expr: string): string[] {
  const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    // Aggregations may be followed by `by (...)` before their parenthesis.
    "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values"]);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const [token, call] = [match[0].replace(/\s*\($/, ""), match[1]];
    if (call || KEYWORDS.has(token) || /^\d/.test(token)) continue;
    names.add(token);
  }
  return [...names].sort();
}

describe("alert rules", () => {
  it("pass promtool check rules", async () => {
    const result = await runTool("promtool", ["check", "rules", RULES]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS: \d+ rules found/);
  });

  it("pass their promtool unit tests (reason and node in the alert, fallback without the reason series, agent down)", async () => {
    const result = await runTool("promtool", ["test", "rules", join(REPO, "test/charts/fixtures/rules.promtool.yaml")]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  it("have one alert per condition and one for the agent being down", async () => {
    const names = (await alerts()).map((a) => a.alert);
    for (const type of CONDITION_TYPES) assert.ok(names.includes(`NodeDoctor${type}`), `an alert for ${type}`);
    assert.ok(names.includes("NodeDoctorAgentDown"));
    for (const type of CONDITION_TYPES) {
      const rule = (await alerts()).find((a) => a.alert === `NodeDoctor${type}`);
      assert.match(rule?.expr ?? "", new RegExp(`node_doctor_condition\\{condition="${type}",status="True"\\}`));
    }
  });

  it("one alert covers every custom check's condition: every type but the built-in ones, which have their own", async () => {
    const rule = (await alerts()).find((a) => a.alert === "NodeDoctorCustomCondition");
    assert.ok(rule, "NodeDoctorCustomCondition exists");
    const excluded = [...(rule.expr ?? "").matchAll(/condition!~"([^"]+)"/g)].map((m) => (m[1] ?? "").split("|").sort());
    assert.equal(excluded.length, 2, "both halves of the expression exclude the built-in types");
    for (const list of excluded) assert.deepEqual(list, [...CONDITION_TYPES].sort(), "exactly the built-in condition types: a new one needs its own alert and a place here");
    assert.match(rule.annotations?.["description"] ?? "", /\{\{ \$labels\.condition \}\}/, "names the custom condition");
  });

  it("each alert has for, severity, a summary, a description with the node (and the reason) and a runbook that exists", async () => {
    for (const rule of await alerts()) {
      const name = rule.alert ?? "";
      assert.match(rule.for ?? "", /^\d+[smh]$/, `${name} has for:`);
      assert.ok(["warning", "critical"].includes(rule.labels?.["severity"] ?? ""), `${name} has a severity`);
      assert.ok(rule.annotations?.["summary"], `${name} has a summary`);
      const description = rule.annotations?.["description"] ?? "";
      assert.match(description, /\{\{ \$labels\.node \}\}|node_doctor_build_info/, `${name}'s description names the node`);
      if (name === "NodeDoctorCustomCondition" || CONDITION_TYPES.some((t) => name === `NodeDoctor${t}`)) {
        assert.match(description, /\{\{ \$labels\.reason \}\}/, `${name}'s description quotes the reason`);
      }
      assert.equal(rule.annotations?.["runbook_url"], `docs/runbooks/${name}.md`);
      await readFile(join(REPO, `docs/runbooks/${name}.md`), "utf8");
    }
  });

  it("every runbook is linked by an alert", async () => {
    const linked = new Set((await alerts()).map((a) => `${a.alert}.md`));
    for (const file of await readdir(join(REPO, "docs/runbooks"))) assert.ok(linked.has(file), `docs/runbooks/${file} is linked by an alert`);
  });

  it("read only series documented in docs/metrics.md (and Prometheus' own up)", async () => {
    const documented = new Set([...(await readFile(join(REPO, "docs/metrics.md"), "utf8")).matchAll(/`([a-z_:][a-z0-9_:]*)`/g)].map((m) => m[1]));
    documented.add("up");
    for (const rule of (await ruleFile()).groups.flatMap((g) => g.rules)) {
      for (const series of seriesIn(rule.expr)) assert.ok(documented.has(series), `${rule.alert ?? rule.record}: ${series} is not in docs/metrics.md`);
    }
  });

  it("docs/deploy.md's scrape configuration passes promtool check config with the rules", async () => {
    const guide = await readFile(join(REPO, "docs/deploy.md"), "utf8");
    const block = /```yaml\n(scrape_configs:[\s\S]*?)```/.exec(guide)?.[1];
    assert.ok(block, "docs/deploy.md has a scrape configuration");
    const dir = await mkdtemp(join(tmpdir(), "node-doctor-promconfig-"));
    try {
      await copyFile(RULES, join(dir, "node-doctor.rules.yaml"));
      // Debian's prometheus is built without Kubernetes service discovery: a static target
      // stands in for it; everything else (relabelling, rule files) is checked as written.
      const sd = /    kubernetes_sd_configs:\n(      .*\n)+/;
      assert.match(block, sd);
      await writeFile(join(dir, "prometheus.yml"), block.replace(sd, "    static_configs:\n      - targets: ['127.0.0.1:9101']\n"));
      const result = await runTool("promtool", ["check", "config", join(dir, "prometheus.yml")]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /SUCCESS: \d+ rules found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the series check sees through functions, matchers and label lists", () => {
    assert.deepEqual(seriesIn('max by (node) (rate(foo_total{a="b or c"}[5m])) * on (node) group_left (reason) bar or absent(baz)'), ["bar", "baz", "foo_total"]);
  });
});

describe("chart PrometheusRule", () => {
  it("reads the rules file through a link, so there is one source", async () => {
    const link = join(CHART, "files/node-doctor.rules.yaml");
    assert.ok((await lstat(link)).isSymbolicLink(), "charts/node-doctor/files/node-doctor.rules.yaml is a symlink");
    assert.equal(await readlink(link), "../../../deploy/prometheus/node-doctor.rules.yaml");
  });

  it("renders the same rules as deploy/prometheus/node-doctor.rules.yaml", async () => {
    const rendered = await renderChart({ prometheusRule: { enabled: true } });
    const rule = findObject(rendered.objects, "PrometheusRule") as unknown as { spec: RuleFile };
    assert.deepEqual(rule.spec.groups, (await ruleFile()).groups);
  });

  it("points runbook links at runbookBaseURL and changes nothing else", async () => {
    const rendered = await renderChart({ prometheusRule: { enabled: true, runbookBaseURL: "https://docs.example.org/node-doctor/runbooks/" } });
    const rule = findObject(rendered.objects, "PrometheusRule") as unknown as { spec: RuleFile };
    const expected = (await ruleFile()).groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => (r.annotations?.["runbook_url"] ? { ...r, annotations: { ...r.annotations, runbook_url: r.annotations["runbook_url"].replace("docs/runbooks/", "https://docs.example.org/node-doctor/runbooks/") } } : r)),
    }));
    assert.deepEqual(rule.spec.groups, expected);
  });

  it("the ServiceMonitor sets job=node-doctor and the node label the alerts use", async () => {
    for (const kind of ["ServiceMonitor", "PodMonitor"] as const) {
      const rendered = await renderChart(kind === "ServiceMonitor" ? { serviceMonitor: { enabled: true } } : { podMonitor: { enabled: true } });
      const monitor = findObject(rendered.objects, kind) as unknown as { spec: Record<string, Array<{ honorLabels: boolean; relabelings: Array<Record<string, unknown>> }>> };
      const endpoint = (monitor.spec[kind === "ServiceMonitor" ? "endpoints" : "podMetricsEndpoints"] ?? [])[0];
      assert.equal(endpoint?.honorLabels, true, "the agent's own node label is kept, not renamed exported_node");
      assert.ok(endpoint?.relabelings.some((r) => r["targetLabel"] === "node" && (r["sourceLabels"] as string[]).includes("__meta_kubernetes_pod_node_name")));
      assert.ok(endpoint?.relabelings.some((r) => r["targetLabel"] === "job" && r["replacement"] === "node-doctor"));
    }
  });
});
