/**
 * Hostile input for the parsers that read the node: /proc cmdline and stat,
 * mountinfo, kubelet flags, KubeletConfiguration YAML, eviction thresholds and
 * the agent's own config. Property: never a throw, a bounded time per input,
 * and either a value or a problem that names the path or key.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { nearly, RUNS, timed } from "../support/fuzz.js";
import { parseQuantity, parseThreshold, thresholdsFromFlag, thresholdsFromMap } from "../../src/node/kubelet/eviction.js";
import { parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import { parseMountinfo } from "../../src/node/mountinfo.js";
import { parseBootTime, parseCmdline, parseStartTicks } from "../../src/node/proc.js";

/** Tokens that break this kind of text. */
const HOST_JUNK = ["\0", "\n", " - ", "\\040", "\xff", "%", "<", ":", "- ", "&a", "*a"];

describe("hostile input to the host parsers", () => {
  it("/proc/<pid>/cmdline: every byte string gives a list of strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom("\0\0\0", "", "kubelet\0--node-ip=\0")), (raw) => {
        const args = timed(() => parseCmdline(raw));
        assert.ok(Array.isArray(args) && args.every((a) => typeof a === "string"));
      }),
      RUNS,
    );
  });

  it("/proc/stat and /proc/<pid>/stat: a number or undefined, never NaN", () => {
    const stat = "cpu  1 2 3\nbtime 1764000000\nprocesses 9\n";
    const pidStat = "1234 (kube let) S 1 1234 1234 0 -1 4194560 0 0 0 0 5 6 0 0 20 0 12 0 98765 0 0";
    fc.assert(
      fc.property(fc.oneof(nearly(stat.split("\n"), HOST_JUNK), fc.string()), fc.oneof(nearly([pidStat, ")", "(", " "], HOST_JUNK), fc.string()), (a, b) => {
        for (const value of [timed(() => parseBootTime(a)), timed(() => parseStartTicks(b))]) {
          assert.ok(value === undefined || Number.isFinite(value), `got ${value}`);
        }
      }),
      RUNS,
    );
  });

  it("mountinfo: entries or per-line errors with line numbers", () => {
    const lines = [
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
      "25 1 0:22 / /var/lib/kubelet rw,relatime shared:7 - tmpfs tmpfs rw,size=4096k",
      "1 0 254:0 / / rw - ext4 /dev/vda rw",
    ];
    fc.assert(
      fc.property(nearly(lines, HOST_JUNK), (text) => {
        const { mounts, errors } = timed(() => parseMountinfo(text));
        for (const m of mounts) assert.ok(m.mountPoint.length > 0 && Number.isInteger(m.mountId));
        for (const e of errors) assert.match(e, /^line \d+: /);
      }),
      RUNS,
    );
  });

  it("kubelet flags: every argv gives a flag map", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom("--kubeconfig", "--node-ip=", "-v=2", "--", "-", "--=x", "--config", "--fail-swap-on=maybe")), {
          maxLength: 20,
        }),
        (argv) => {
          timed(() => parseKubeletFlags(argv));
        },
      ),
      RUNS,
    );
  });

  it("KubeletConfiguration YAML: a mapping, or a problem naming the file", () => {
    const doc = [
      "apiVersion: kubelet.config.k8s.io/v1beta1",
      "kind: KubeletConfiguration",
      "evictionHard:",
      "  nodefs.available: 10%",
      "- a",
      "x: &a [*a]",
      "{",
      "'",
    ];
    fc.assert(
      fc.property(fc.oneof(nearly(doc, HOST_JUNK), fc.string({ maxLength: 300 })), (text) => {
        const result = timed(() => parseYamlMapping("/var/lib/kubelet/config.yaml", text));
        if (!result.ok) assert.match(result.problem, /^\/var\/lib\/kubelet\/config\.yaml: /);
        else assert.equal(typeof result.value, "object");
      }),
      RUNS,
    );
  });

  it("YAML alias bombs are refused, not expanded", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(10)
            .fill(`*${i === 0 ? "a" : "abcdefghij"[i]}`)
            .join(", ")}]`,
      ),
    ].join("\n");
    const result = timed(() => parseYamlMapping("/var/lib/kubelet/config.yaml", bomb));
    assert.equal(result.ok, false);
  });

  it("eviction thresholds: a threshold, or a problem quoting the entry", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("10%", "100Mi", "1e3", "-5%", "%", "101%", "1.5Gi", "NaN", "Infinity", "0x10")),
        fc.dictionary(
          fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("nodefs.available", "imagefs.inodesFree")),
          fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null)),
        ),
        (text, map) => {
          const quantity = timed(() => parseQuantity(text));
          assert.ok(quantity === undefined || Number.isFinite(quantity) || quantity === Infinity);
          const threshold = timed(() => parseThreshold(text));
          if (typeof threshold !== "string") assert.ok(threshold.value >= 0);
          for (const problem of timed(() => thresholdsFromFlag(text, "--eviction-hard")).problems) assert.match(problem, /^--eviction-hard[.:]/);
          for (const problem of timed(() => thresholdsFromMap(map, "evictionHard")).problems) assert.match(problem, /^evictionHard/);
        },
      ),
      RUNS,
    );
  });
});
