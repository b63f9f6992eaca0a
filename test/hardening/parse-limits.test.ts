/**
 * Bounded memory whatever the document: the agent's config, its kubeconfig,
 * kubelet's config on the node and the API server's answers, each made
 * hostile (nested 500,000 deep, 500,000 items wide, an alias bomb), read by
 * the built agent under a 192 MiB memory cgroup as the chart's limit. Each
 * ends in one clear line or finding naming the file (or the request) and
 * the limit; nothing is OOM-killed, nothing hangs. On main before the
 * limits, the nested config took 697 MiB and the nested API answer about
 * 200 MiB.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkYamlShape, parseUntrustedYaml, YamlLimitError } from "../../src/text/yaml.js";
import { checkJsonDepth, JsonDepthError, parseUntrustedJson } from "../../src/text/json.js";
import { assertBuilt, BUNDLE, NODE } from "../support/cli.js";
import { writeProcess } from "../support/distro-node.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { memoryCgroup, type CgroupRun } from "../support/memory-cgroup.js";

const LIMIT = 192 * 1024 * 1024;
const MB = 1024 * 1024;

/** 1 MB of YAML flow sequences nested 500,000 deep, as in the report. */
const NESTED_YAML = `checks: ${"[".repeat(500_000)}${"]".repeat(500_000)}\n`;
/** 1 MB of one flat list: 500,000 items. */
const WIDE_YAML = `checks: [${"1,".repeat(500_000)}1]\n`;
/** Block sequences nested by indicators alone on one line. */
const BLOCK_YAML = `checks:\n${"- ".repeat(300_000)}x\n`;
/** A billion laughs: ten aliases of ten aliases … */
const ALIAS_BOMB =
  ["a: &a [x, x, x, x, x, x, x, x, x, x]", ..."bcdefghij".split("").map((c, i) => `${c}: &${c} [${Array(10).fill(`*${"abcdefghij"[i]}`).join(", ")}]`)].join(
    "\n",
  ) + "\n";
/** 1 MB of JSON nested 500,000 deep (a kubeconfig is YAML, and YAML reads JSON). */
const NESTED_JSON_KUBECONFIG = `{"apiVersion": "v1", "kind": "Config", "clusters": ${"[".repeat(500_000)}${"]".repeat(500_000)}}`;

let work: string;

before(async () => {
  assertBuilt();
  work = await mkdtemp(join(tmpdir(), "nd-limits-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** One run of the built agent, with the agent's V8 flags, in a fresh 192 MiB group (so peak and OOM kills are its own). */
async function agent(args: string[], timeoutMs = 60_000): Promise<CgroupRun> {
  const cgroup = await memoryCgroup(LIMIT);
  try {
    return await cgroup.run(NODE, ["--max-semi-space-size=1", "--no-opt", "--no-maglev", "--optimize-for-size", "--no-node-snapshot", BUNDLE, ...args], {
      timeoutMs,
    });
  } finally {
    await cgroup.remove();
  }
}

/** Asserts the run stayed within the limit; returns its figures for the test's diagnostics. */
function assertBounded(run: CgroupRun, what: string): string {
  const figures = `${what}: exit ${run.code} signal ${run.signal}, peak ${(run.peakBytes / MB).toFixed(1)} MiB, ${run.oomKills} OOM kills, ${run.elapsedMs.toFixed(0)} ms\nstderr: ${run.stderr.slice(0, 1000)}`;
  assert.equal(run.oomKills, 0, figures);
  assert.equal(run.signal, null, figures);
  assert.ok(run.peakBytes < LIMIT, figures);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `no stack trace: ${figures}`);
  return figures.split("\n")[0] as string;
}

describe("the parsers' limits, alone", () => {
  it("YAML: nested, block-nested, wide and alias bombs are refused with the line, in bounded time", () => {
    const started = performance.now();
    assert.throws(
      () => checkYamlShape(NESTED_YAML),
      (e: Error) => e instanceof YamlLimitError && /nested more than 64 levels deep \(at line 1\)/.test(e.message),
    );
    assert.throws(
      () => checkYamlShape(BLOCK_YAML),
      (e: Error) => e instanceof YamlLimitError && /nested more than 64 levels deep \(at line 2\)/.test(e.message),
    );
    assert.throws(
      () => checkYamlShape(WIDE_YAML),
      (e: Error) => e instanceof YamlLimitError && /more than 50000 tokens/.test(e.message),
    );
    assert.throws(() => parseUntrustedYaml(ALIAS_BOMB), /alias/i);
    assert.ok(performance.now() - started < 5_000);
    // What node-doctor reads in practice passes: nesting of a kubeconfig, a long base64 value.
    assert.deepEqual(parseUntrustedYaml(`a:\n  b:\n    - c: [1, {d: [2, 3]}]\ne: "${"[".repeat(100_000)}"\n`), {
      a: { b: [{ c: [1, { d: [2, 3] }] }] },
      e: "[".repeat(100_000),
    });
  });

  it("JSON: nesting is refused at the first bracket past the limit; brackets in strings do not count", () => {
    assert.throws(
      () => parseUntrustedJson("[".repeat(2_000_000) + "]".repeat(2_000_000)),
      (e: Error) => e instanceof JsonDepthError && /nested more than 64 levels deep \(at byte 64\)/.test(e.message),
    );
    checkJsonDepth(`{"a": "${"[{".repeat(1000)}\\"[[["}`);
    assert.deepEqual(parseUntrustedJson(`${"[".repeat(64)}${"]".repeat(64)}`), JSON.parse(`${"[".repeat(64)}${"]".repeat(64)}`));
  });
});

describe("the built agent under a 192 MiB memory cgroup", () => {
  const empty = () => mkdtemp(join(work, "root-"));

  for (const [name, text, problem] of [
    ["nested 500,000 deep", NESTED_YAML, /nested more than 64 levels deep \(at line 1\)/],
    ["500,000 items wide", WIDE_YAML, /more than 50000 tokens \(at line 1\)/],
    ["an alias bomb", ALIAS_BOMB, /alias/i],
  ] as const) {
    it(`--config ${name}: exit 3, one line naming the file and the limit`, async (t) => {
      const config = join(work, `config-${name.split(" ")[0]}.yaml`);
      await writeFile(config, text);
      const run = await agent(["check", "--host-root", await empty(), "--config", config]);
      t.diagnostic(assertBounded(run, name));
      assert.equal(run.code, 3, run.stderr);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, run.stderr);
      assert.ok(lines[0]?.includes(config), lines[0]);
      assert.match(lines[0] ?? "", problem);
    });
  }

  it("--kubeconfig as 1 MB of nested JSON: exit 3, one line naming the file, never 'Maximum call stack size exceeded'", async (t) => {
    const kubeconfig = join(work, "kubeconfig.json");
    await writeFile(kubeconfig, NESTED_JSON_KUBECONFIG);
    const run = await agent(["check", "--host-root", await empty(), "--kubeconfig", kubeconfig, "--node-name", "n"]);
    t.diagnostic(assertBounded(run, "nested kubeconfig"));
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`kubeconfig ${kubeconfig}.*nested more than 64 levels deep`));
    assert.doesNotMatch(run.stderr, /call stack/);
  });

  it("kubelet's --config file nested 500,000 deep on the node: KubeletConfigFileInvalid naming the file and the limit", async (t) => {
    const root = await empty();
    await writeProcess(root, { pid: 4242, exe: "/usr/bin/kubelet", argv: ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"] });
    await mkdir(join(root, "var/lib/kubelet"), { recursive: true });
    await writeFile(
      join(root, "var/lib/kubelet/config.yaml"),
      `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nevictionHard: ${"[".repeat(500_000)}${"]".repeat(500_000)}\n`,
    );
    const run = await agent(["check", "--host-root", root, "--only", "kubelet-config", "--output", "json"]);
    t.diagnostic(assertBounded(run, "nested kubelet config"));
    const findings = (JSON.parse(run.stdout) as { findings: Array<{ reason: string; message: string }> }).findings;
    const invalid = findings.find((f) => f.reason === "KubeletConfigFileInvalid");
    assert.ok(invalid, run.stdout);
    assert.match(invalid.message, /\/var\/lib\/kubelet\/config\.yaml: nested more than 64 levels deep \(at line 3\)/);
  });

  it("the API server answering GET node with 4 MB of nested JSON: the kubelet check could not look, naming the limit", async (t) => {
    const api = await FakeApiServer.start();
    try {
      api.seedNode("n");
      api.seedLease("n", { renewTime: new Date() });
      const depth = 2_000_000;
      api.fault(
        { verb: "get", resource: "nodes" },
        { rawBody: `{"kind":"Node","apiVersion":"v1","metadata":{"name":"n"},"status":{"x":${"[".repeat(depth)}${"]".repeat(depth)}}}` },
      );
      const kubeconfig = await api.writeKubeconfig(work);
      const root = await empty();
      await writeProcess(root, { pid: 4242, exe: "/usr/bin/kubelet", argv: ["/usr/bin/kubelet"] });
      const run = await agent(["check", "--host-root", root, "--only", "kubelet", "--kubeconfig", kubeconfig, "--node-name", "n", "--output", "json"]);
      t.diagnostic(assertBounded(run, "nested API answer"));
      const findings = (JSON.parse(run.stdout) as { findings: Array<{ reason: string; severity: string; message: string }> }).findings;
      const unknown = findings.find((f) => f.reason === "KubeletRegistrationUnknown");
      assert.ok(unknown, run.stdout);
      assert.equal(unknown.severity, "unknown");
      assert.match(unknown.message, /GET \/api\/v1\/nodes\/n: answer 200 is nested more than 64 levels deep/);
    } finally {
      await api.close();
    }
  });
});
