/**
 * Hostile input for what the kubelet-config check reads: containerd's TOML,
 * systemd unit files and environment files, dpkg's status, kubeconfigs,
 * --node-labels and /proc/swaps, and the whole rule set over random flags.
 * Property: never a throw (bar TomlError with a line), a bounded time per
 * input, and findings that name what they judged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { nearly, RUNS, timed } from "../support/fuzz.js";
import { judgeKubeletConfig } from "../../src/checks/kubelet-config/judge.js";
import { topLevelKeyLines } from "../../src/checks/kubelet-config/rules/common.js";
import { judgeKubeconfigText } from "../../src/checks/kubelet-config/rules/kubeconfig.js";
import { labelProblem, parseNodeLabels } from "../../src/checks/kubelet-config/rules/node-labels.js";
import { parseProcSwaps } from "../../src/checks/kubelet-config/rules/swap.js";
import { parseKubeVersion } from "../../src/node/kubelet/version.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import { dpkgPackageVersion } from "../../src/node/packages.js";
import { containerdCgroup } from "../../src/node/runtime-config.js";
import { TomlError, parseToml } from "../../src/node/toml.js";
import { expandCommand, parseEnvironmentFile, serviceDirectives, splitWords } from "../../src/node/unit-file.js";

/** Tokens that break this kind of text. */
const CONFIG_JUNK = ["\0", "\n", "[", "]", "[[", '"', "'", '"""', "'''", "=", "\\", "#", "{", "}", ",", "$", "${", "\r\n"];

const TOML_LINES = [
  "version = 2",
  '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
  "  SystemdCgroup = true",
  'default_runtime_name = "runc"',
  "[[a.b]]",
  "x = [1, 2,",
  "]",
  "y = { z = 1 }",
  "s = '''",
  'm = """',
  "d = 1979-05-27T07:32:00Z",
];

describe("hostile input to the kubelet-config parsers", () => {
  it("TOML: a table or a TomlError with a line inside the text", () => {
    fc.assert(
      fc.property(fc.oneof(nearly(TOML_LINES, CONFIG_JUNK), fc.string()), (text) => {
        try {
          const doc = timed(() => parseToml(text));
          assert.equal(typeof doc, "object");
        } catch (error) {
          assert.ok(error instanceof TomlError, `threw ${String(error)}`);
          assert.ok(error.line >= 1 && error.line <= text.split("\n").length + 1, `line ${error.line} outside the text`);
        }
        const verdict = timed(() => containerdCgroup("/etc/containerd/config.toml", text));
        if (!verdict.ok) assert.match(verdict.problem, /^\/etc\/containerd\/config\.toml/);
      }),
      RUNS,
    );
  });

  it("unit files, environment files and ExecStart expansion: lists of strings", () => {
    const unit = [
      "[Service]",
      'Environment="A=--x --y"',
      "ExecStart=",
      "ExecStart=/usr/bin/kubelet $A ${A} \\",
      "  --v=2",
      "EnvironmentFile=-/etc/default/kubelet",
      "[Install]",
    ];
    fc.assert(
      fc.property(fc.oneof(nearly(unit, CONFIG_JUNK), fc.string()), (text) => {
        for (const d of timed(() => serviceDirectives(text))) assert.ok(typeof d.key === "string" && typeof d.value === "string");
        const env = timed(() => parseEnvironmentFile(text));
        const words = timed(() => splitWords(text));
        const argv = timed(() => expandCommand(text, env));
        assert.ok(words.every((w) => typeof w === "string") && argv.every((w) => typeof w === "string"));
      }),
      RUNS,
    );
  });

  it("dpkg status, /proc/swaps, versions and YAML key lines: values or undefined", () => {
    const dpkg = ["Package: kubelet", "Status: install ok installed", "Version: 1.30.4-1.1", "", "Package: kubeadm"];
    fc.assert(
      fc.property(fc.oneof(nearly(dpkg, CONFIG_JUNK), fc.string()), (text) => {
        const version = timed(() => dpkgPackageVersion(text, "kubelet"));
        assert.ok(version === undefined || (typeof version === "string" && !/\s/.test(version)));
        assert.ok(timed(() => parseProcSwaps(text)).every((s) => typeof s === "string" && s !== ""));
        const parsed = timed(() => parseKubeVersion(text));
        assert.ok(parsed === undefined || (Number.isInteger(parsed.major) && Number.isInteger(parsed.minor)));
        for (const line of Object.values(timed(() => topLevelKeyLines(text)))) assert.ok(line >= 1);
      }),
      RUNS,
    );
  });

  it("kubeconfigs: a server or a problem naming the path", () => {
    const kubeconfig = [
      "clusters:",
      "- name: k",
      "  cluster: {server: https://a:6443}",
      "contexts:",
      "- name: c",
      "  context: {cluster: k}",
      "current-context: c",
      "- [",
      "server: 7",
    ];
    fc.assert(
      fc.property(fc.oneof(nearly(kubeconfig, CONFIG_JUNK), fc.string()), (text) => {
        const verdict = timed(() => judgeKubeconfigText("/etc/kubernetes/kubelet.conf", text));
        if (verdict.ok) assert.doesNotThrow(() => new URL(verdict.server));
        else assert.match(verdict.problem, /\/etc\/kubernetes\/kubelet\.conf/);
      }),
      RUNS,
    );
  });

  it("every rule over random flags and config: findings with a reason, a message and, above ok, a remedy", () => {
    const flag = fc.oneof(
      fc.constantFrom(
        "--node-labels=node-role.kubernetes.io/worker=,a=b",
        "--node-labels=,,=,/=x",
        "--node-status-max-images=-9",
        "--node-status-max-images=NaN",
        "--dynamic-config-dir=/d",
        "--feature-gates=DynamicKubeletConfig=maybe,=",
        "--logtostderr=false",
        "--log-dir=",
        "--stderrthreshold=99",
        "--cgroup-driver=systemd",
        "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        "--kubeconfig=/k",
        "--require-kubeconfig",
        "--fail-swap-on=t",
      ),
      fc.string({ maxLength: 30 }),
    );
    const config = fc.oneof(
      nearly(["kind: KubeletConfiguration", "failSwapOn: 3", "nodeStatusMaxImages: -3", "featureGates: [1]", "cgroupDriver: {}", "- x"], CONFIG_JUNK),
      fc.string(),
    );
    fc.assert(
      fc.property(
        fc.array(flag, { maxLength: 12 }),
        config,
        fc.option(fc.constantFrom("1.7.16", "1.22.0", "1.31.2")),
        fc.string(),
        (args, yaml, version, text) => {
          const findings = timed(() =>
            judgeKubeletConfig({
              pid: 1,
              cmdlineEmpty: false,
              flags: parseKubeletFlags(args),
              configFiles: composeConfigFiles({ file: parseYamlMapping("/var/lib/kubelet/config.yaml", yaml), fileFromFlag: true, dropIns: [] }),
              ...(version ? { version: { version: parseKubeVersion(version)!, source: "test" } } : {}),
              kubeconfig: { path: "/k", state: "ok", text },
              swaps: { ok: true, active: ["/swap"] },
              containerdConfig: { path: "/etc/containerd/config.toml", state: "ok", text },
            }),
          );
          assert.ok(findings.length > 0);
          for (const f of findings) {
            assert.match(f.reason, /^[A-Z][A-Za-z]+$/);
            assert.ok(f.message.length > 0);
            if (f.severity !== "ok") assert.ok(f.remedy, `${f.reason} without a remedy`);
          }
          for (const label of parseNodeLabels(args.join(","))) {
            const problem = labelProblem(label.key, label.value);
            assert.ok(problem === undefined || problem.length > 0);
          }
        },
      ),
      { ...RUNS, numRuns: 200 },
    );
  });
});
