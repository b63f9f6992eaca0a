/**
 * The log signatures as tables, without a journal or a check: each sample
 * log (test/fixtures/logs/<signature>.log) parsed line by line and fed to the
 * matcher fires its own signature and no other problem; cAdvisor's noise is
 * counted as noise; a recovery line clears; and the pure pieces around them
 * (which files kubelet writes, where reading starts, the templates). The
 * check reading real journals and files is test/checks/kubelet-logs.test.ts.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { kubeletLogFiles, readingSince } from "../../src/checks/kubelet-logs/index.js";
import { NOISE, SIGNATURES } from "../../src/checks/kubelet-logs/signatures.js";
import { parseLogLine } from "../../src/node/log-line.js";
import { SignatureMatcher, type LineResult } from "../../src/node/logs/matcher.js";
import { renderTemplate } from "../../src/node/logs/render.js";

const LOGS = new URL("../fixtures/logs/", import.meta.url);
/** The sample logs are stamped 24 November, around noon (klog has no year: the parser takes the one that puts them just before now). */
const NOW = Date.parse("2026-11-24T12:05:00Z");

/** Feeds every line of `text` as `component`; returns the matcher and each line's result. */
function feed(text: string, component = "kubelet"): { matcher: SignatureMatcher; results: LineResult[]; lastMs: number } {
  const matcher = new SignatureMatcher(SIGNATURES, NOISE, ["file"]);
  let lastMs = 0;
  const results = text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const record = parseLogLine(line, NOW);
      lastMs = Math.max(lastMs, record.timeMs ?? NOW);
      return matcher.feed(record, component, "file", record.timeMs ?? NOW);
    });
  return { matcher, results, lastMs };
}

const problemIds = new Set(SIGNATURES.filter((s) => s.kind === "problem").map((s) => s.id));

describe("log signatures over their sample logs", () => {
  for (const signature of SIGNATURES) {
    if (signature.kind !== "problem") continue;
    it(`${signature.id}.log matches ${signature.id} and no other problem`, async () => {
      const { matcher, lastMs } = feed(await readFile(new URL(`${signature.id}.log`, LOGS), "utf8"));
      const matches = matcher.snapshot().matches;
      assert.ok((matches[signature.id] ?? 0) > 0, `${signature.id} matched no line`);
      const others = Object.entries(matches).filter(([id, n]) => n > 0 && id !== signature.id && problemIds.has(id));
      assert.deepEqual(others, []);
      // Judged just after the sample's last line, inside the signature's window.
      const active = matcher.active(lastMs + 1000).map((a) => a.signature.id);
      assert.ok(active.includes(signature.id), `${signature.id} is not active at the sample's end (got ${active.join(", ")})`);
    });
  }

  it("benign.log (cAdvisor noise, probes, crash loops, a registration) matches no problem, and its noise is counted as noise", async () => {
    const { matcher, results } = feed(await readFile(new URL("benign.log", LOGS), "utf8"));
    const problems = Object.entries(matcher.snapshot().matches).filter(([id, n]) => n > 0 && problemIds.has(id));
    assert.deepEqual(problems, []);
    assert.ok(results.includes("noise"), "benign.log has noise lines");
    assert.deepEqual(matcher.active(NOW), []);
  });
});

describe("log lines, one at a time", () => {
  const rows: Array<[string, string, string, LineResult, string?]> = [
    [
      "the unregistered node's decisive warning (klog printf, kubelet 1.7)",
      "W1124 11:55:13.582668   27521 kubelet.go:1318] No api server defined - no node status update will be sent.",
      "kubelet",
      "matched",
      "no-api-server",
    ],
    [
      "cAdvisor's cold cache is noise (the errors the unregistered node's operator chased)",
      "E1124 11:55:14.000000   27521 kubelet.go:1234] unable to find data for container /",
      "kubelet",
      "noise",
    ],
    [
      "an ordinary informational line is unmatched",
      'I1124 11:55:20.000000   27521 kubelet.go:2000] "SyncLoop ADD" source="api" pods=["kube-system/kube-proxy-x"]',
      "kubelet",
      "unmatched",
    ],
    ["text that is no known format is unparseable", "something happened", "kubelet", "unparseable"],
    [
      "a kubelet-only signature does not fire on the runtime's log",
      "W1124 11:55:13.582668   27521 kubelet.go:1318] No api server defined - no node status update will be sent.",
      "runtime",
      "unmatched",
    ],
  ];
  for (const [name, line, component, result, id] of rows) {
    it(name, () => {
      const { matcher, results } = feed(line, component);
      assert.deepEqual(results, [result]);
      if (id) assert.equal(matcher.snapshot().matches[id], 1);
    });
  }

  it("a registration after Unauthorized clears it", async () => {
    const unauthorized = await readFile(new URL("unauthorized.log", LOGS), "utf8");
    const { matcher, lastMs } = feed(unauthorized);
    const active = (): string[] => matcher.active(lastMs + 1000).map((a) => a.signature.id);
    assert.ok(active().includes("unauthorized"), "unauthorized is active after its sample");
    const record = parseLogLine('I1124 12:04:00.000000    2211 kubelet_node_status.go:76] "Successfully registered node" node="n1"', NOW);
    assert.equal(matcher.feed(record, "kubelet", "file", lastMs + 500), "recovery");
    assert.deepEqual(active(), [], "the registration cleared it");
  });
});

describe("kubeletLogFiles", () => {
  const rows: Array<[string, Record<string, string>, string[], string[]]> = [
    ["no file flags: only what is configured", {}, ["/var/log/extra.log"], ["/var/log/extra.log"]],
    ["--log-file", { "log-file": "/var/log/kubelet.log" }, [], ["/var/log/kubelet.log"]],
    ["--log-dir: klog's kubelet.INFO link", { "log-dir": "/tmp/" }, [], ["/tmp/kubelet.INFO"]],
    ["a relative path is not followed", { "log-file": "kubelet.log", "log-dir": "logs" }, [], []],
    ["a configured file named twice is read once", { "log-file": "/var/log/kubelet.log" }, ["/var/log/kubelet.log"], ["/var/log/kubelet.log"]],
  ];
  for (const [name, flags, extra, files] of rows) it(name, () => assert.deepEqual(kubeletLogFiles(new Map(Object.entries(flags)), extra), files));
});

describe("readingSince", () => {
  const settings = { lookbackMinutes: 10, sinceKubeletStartMaxHours: 6 };
  const rows: Array<[string, number | undefined, number]> = [
    ["kubelet's start unknown: the lookback", undefined, NOW - 600_000],
    ["kubelet started within the lookback: the lookback", NOW - 60_000, NOW - 600_000],
    ["kubelet started 2 h ago: from its start, a minute early", NOW - 7200_000, NOW - 7200_000 - 60_000],
    ["kubelet started 2 days ago: the lookback", NOW - 2 * 86400_000, NOW - 600_000],
  ];
  for (const [name, start, since] of rows) it(name, () => assert.equal(readingSince(NOW, settings, start), since));
});

describe("finding templates", () => {
  const rows: Array<[string, Record<string, string>, string]> = [
    ["{path} was not found", { path: "/etc/kubernetes/kubelet.conf" }, "/etc/kubernetes/kubelet.conf was not found"],
    ["{count} times in {window}", { count: "3", window: "10 min" }, "3 times in 10 min"],
    ["failed{socket? (socket named)}", { socket: "/run/containerd/containerd.sock" }, "failed (socket named)"],
    ["failed{socket? (socket named)}", {}, "failed"],
    ["{missing} stays empty", {}, " stays empty"],
  ];
  for (const [template, values, text] of rows) it(`${template} with ${JSON.stringify(values)}`, () => assert.equal(renderTemplate(template, values), text));
});
