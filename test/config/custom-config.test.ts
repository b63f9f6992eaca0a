/**
 * `checks.custom` is validated when the configuration loads: every mistake is
 * one line naming the key, and `node-doctor check` exits 3 on it — an
 * unknown probe kind, kubelet's (or a built-in check's) condition type, a
 * regex that does not compile, a template naming a field the probe lacks.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { configSchema } from "../../src/main/agent.js";
import { ConfigError } from "../../src/config/schema.js";
import { runCli } from "../support/cli.js";

const file = { name: "data", condition: "DataMissing", probe: { kind: "file", path: "/mnt/data" } };

function problemOf(custom: unknown): string {
  try {
    configSchema.parse({ checks: { custom } }, "");
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.doesNotMatch(error.message, /\n/, "one line");
    return error.message;
  }
  assert.fail("expected the configuration to be rejected");
}

describe("checks.custom validation", () => {
  const rows: Array<[string, unknown, RegExp]> = [
    ["not a list", { data: file }, /^checks\.custom: expected a list, got a mapping$/],
    [
      "unknown kind, with a suggestion",
      [{ ...file, probe: { kind: "fille", path: "/x" } }],
      /^checks\.custom\[0\]\.probe\.kind: unknown kind "fille" \(did you mean "file"\?\); known: file, sysctl, unit, tcp, http, npd-plugin, log$/,
    ],
    ["no kind", [{ ...file, probe: { path: "/x" } }], /^checks\.custom\[0\]\.probe\.kind: missing; one of file, sysctl/],
    ["kubelet's condition type", [{ ...file, condition: "MemoryPressure" }], /^checks\.custom\[0\]\.condition: MemoryPressure is kubelet's own condition/],
    [
      "a built-in check's condition type",
      [{ ...file, condition: "ContainerRuntimeUnhealthy" }],
      /^checks\.custom\[0\]\.condition: ContainerRuntimeUnhealthy is fed by node-doctor's own checks/,
    ],
    ["a condition type that is not CamelCase", [{ ...file, condition: "data-missing" }], /^checks\.custom\[0\]\.condition: must be a CamelCase condition type/],
    [
      "a regex that does not compile",
      [{ ...file, probe: { kind: "file", path: "/x", matches: "([a-z]+" } }],
      /^checks\.custom\[0\]\.probe\.matches: is not a valid regular expression: .*Unterminated group/,
    ],
    [
      "a regex that can backtrack forever",
      [{ ...file, probe: { kind: "http", url: "http://127.0.0.1/", bodyMatches: "^(\\w+\\s?)*$" } }],
      /^checks\.custom\[0\]\.probe\.bodyMatches: .* can take exponential time/,
    ],
    [
      "a template naming an unknown field",
      [{ ...file, problem: { message: "{{.file}} is missing" } }],
      /^checks\.custom\[0\]\.problem\.message: \{\{\.file\}\} is not a field of a file probe; its fields: name, condition, kind, detail, path/,
    ],
    [
      "another probe's field",
      [{ ...file, ok: { message: "{{.status}}" } }],
      /^checks\.custom\[0\]\.ok\.message: \{\{\.status\}\} is not a field of a file probe/,
    ],
    [
      "a template with a function",
      [{ ...file, problem: { remedy: "{{ .path | quote }}" } }],
      /^checks\.custom\[0\]\.problem\.remedy: \{\{ \.path \| quote \}\} is not a field: only \{\{\.field\}\} is allowed/,
    ],
    [
      "a bare octal mode (YAML reads 0600 as 600)",
      [{ ...file, probe: { kind: "file", path: "/x", mode: 600 } }],
      /^checks\.custom\[0\]\.probe\.mode: write the mode in quotes, e\.g\. "0600"/,
    ],
    [
      "a field meaningless when the file must be absent",
      [{ ...file, probe: { kind: "file", path: "/x", exists: false, matches: "y" } }],
      /^checks\.custom\[0\]\.probe\.matches: means nothing with exists: false/,
    ],
    [
      "a probe deadline after the check's",
      [{ ...file, timeoutSeconds: 2, probe: { kind: "tcp", host: "127.0.0.1", port: 22, timeoutSeconds: 3 } }],
      /^checks\.custom\[0\]\.probe\.timeoutSeconds: 3 must be below the check's timeoutSeconds \(2\)/,
    ],
    [
      "an ordering on a set",
      [{ ...file, probe: { kind: "sysctl", key: "vm.swappiness", op: "<", value: [1, 2] } }],
      /^checks\.custom\[0\]\.probe\.value: op < compares with one value/,
    ],
    [
      "an ordering on text",
      [{ ...file, probe: { kind: "sysctl", key: "vm.swappiness", op: ">", value: "high" } }],
      /^checks\.custom\[0\]\.probe\.value: op > compares numbers/,
    ],
    [
      "a sysctl climbing out of /proc/sys",
      [{ ...file, probe: { kind: "sysctl", key: "../../etc/shadow", value: 1 } }],
      /^checks\.custom\[0\]\.probe\.key: is not a sysctl name/,
    ],
    [
      "a unit without its type",
      [{ ...file, probe: { kind: "unit", unit: "containerd" } }],
      /^checks\.custom\[0\]\.probe\.unit: expected a systemd unit name with its type/,
    ],
    [
      "an ActiveState systemd does not have",
      [{ ...file, probe: { kind: "unit", unit: "x.service", activeState: ["running"] } }],
      /^checks\.custom\[0\]\.probe\.activeState\[0\]: expected one of "active", "reloading"/,
    ],
    [
      "a URL with credentials",
      [{ ...file, probe: { kind: "http", url: "https://admin:hunter2@registry.internal/" } }],
      /^checks\.custom\[0\]\.probe\.url: must not carry credentials/,
    ],
    [
      "a relative plugin path",
      [{ ...file, probe: { kind: "npd-plugin", path: "./check_ntp.sh" } }],
      /^checks\.custom\[0\]\.probe\.path: must be an absolute path/,
    ],
    [
      "an unknown key in a probe",
      [{ ...file, probe: { kind: "file", path: "/x", mods: "0600" } }],
      /^checks\.custom\[0\]\.probe\.mods: unknown key \(did you mean "mode"\?\)/,
    ],
    ["a reason that is not CamelCase", [{ ...file, problem: { reason: "data missing" } }], /^checks\.custom\[0\]\.problem\.reason: must be a CamelCase reason/],
    [
      "a severity that is not a problem's",
      [{ ...file, problem: { severity: "ok" } }],
      /^checks\.custom\[0\]\.problem\.severity: expected one of "warning", "critical"/,
    ],
    ["a name used twice", [file, { ...file, condition: "OtherMissing" }], /^checks\.custom\[1\]\.name: data is already the name of entry 0$/],
    ["a condition fed by two checks", [file, { ...file, name: "other" }], /^checks\.custom\[1\]\.condition: DataMissing is already fed by custom check data/],
    [
      "a log probe without a source",
      [{ ...file, probe: { kind: "log", signatures: [{ pattern: "oom-kill" }] } }],
      /^checks\.custom\[0\]\.probe\.journalUnits: no source: name journalUnits, files, or kernel: true$/,
    ],
    [
      "a log pattern with no literal to look for first",
      [{ ...file, probe: { kind: "log", kernel: true, signatures: [{ pattern: "^\\d+ \\w+$" }] } }],
      /^checks\.custom\[0\]\.probe\.signatures\[0\]\.contains: is needed: .* has no literal text of 3 characters/,
    ],
    [
      "a log template naming a group the patterns lack",
      [
        {
          ...file,
          probe: { kind: "log", kernel: true, signatures: [{ pattern: "nfs: server (?<server>\\S+) not responding" }] },
          problem: { message: "{{.host}}" },
        },
      ],
      /^checks\.custom\[0\]\.problem\.message: \{\{\.host\}\} is not a field of a log probe; its fields: .*sample, server$/,
    ],
    ["a check name that is not a DNS label", [{ ...file, name: "Data_Mount" }], /^checks\.custom\[0\]\.name: must be lowercase letters, digits and dashes/],
  ];
  for (const [name, custom, expected] of rows) {
    it(name, () => assert.match(problemOf(custom), expected));
  }

  it("defaults: interval 60 s, timeout 10 s, critical, reasons CheckPassed and the condition type", () => {
    const config = configSchema.parse({ checks: { custom: [file] } }, "");
    const [entry] = config.checks.custom;
    assert.ok(entry);
    assert.deepEqual(
      [entry.enabled, entry.intervalSeconds, entry.timeoutSeconds, entry.problem.severity, entry.ok.reason, entry.problem.reason],
      [true, 60, 10, "critical", "CheckPassed", undefined],
    );
    assert.deepEqual(configSchema.parse({}, "").checks.custom, []);
  });
});

describe("node-doctor check with a bad checks.custom", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nd-custom-config-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, unknown, RegExp]> = [
    ["unknown kind", { ...file, probe: { kind: "nfs-mount", path: "/mnt/data" } }, /checks\.custom\[0\]\.probe\.kind: unknown kind "nfs-mount"/],
    ["kubelet-owned condition type", { ...file, condition: "Ready" }, /checks\.custom\[0\]\.condition: Ready is kubelet's own condition/],
    [
      "a regex that does not compile",
      { ...file, probe: { kind: "file", path: "/proc/1/mounts", matches: "^\\S+ /mnt/data nfs4?(" } },
      /checks\.custom\[0\]\.probe\.matches: is not a valid regular expression/,
    ],
    [
      "a template naming an unknown field",
      { ...file, problem: { remedy: "mount {{.mountpoint}}" } },
      /checks\.custom\[0\]\.problem\.remedy: \{\{\.mountpoint\}\} is not a field of a file probe/,
    ],
  ];
  for (const [name, entry, expected] of cases) {
    it(`${name}: exit 3, one line naming the key`, async () => {
      const path = join(dir, `${name.replace(/\W+/g, "-")}.yaml`);
      await writeFile(path, stringify({ checks: { custom: [entry] } }));
      const result = await runCli(["check", "--config", path, "--host-root", dir]);
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, "");
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0] ?? "", new RegExp(`^node-doctor: config ${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: `));
      assert.match(lines[0] ?? "", expected);
    });
  }
});
