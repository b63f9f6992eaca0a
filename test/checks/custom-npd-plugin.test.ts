/**
 * The npd-plugin probe speaks node-problem-detector's plugin protocol and
 * gives NPD's verdicts. NPD's runner is written down as data
 * (test/fixtures/npd-plugins/npd-protocol.json, read from NPD's plugin.go; see
 * its SOURCES.md): for each row a small script of ours does what the row
 * says, and node-doctor must give the status NPD's table gives — ok, problem
 * or unknown — and NPD's message where NPD's message is the plugin's stdout,
 * except that node-doctor keeps far more than NPD's 80 characters. A hanging
 * plugin dies at its deadline with its children; output past the cap is cut
 * and says so; a script without `#!` is refused, not handed to sh.
 */
import assert from "node:assert/strict";
import { constants, existsSync, readFileSync } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CHECKS } from "../../src/checks/index.js";
import { MAX_CONCURRENT_PLUGINS } from "../../src/checks/custom/index.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { Severity } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { customCheck, customChecks, runOnce } from "../support/custom-checks.js";
import { runTool } from "../support/tools.js";

const PLUGINS = fileURLToPath(new URL("../fixtures/npd-plugins/", import.meta.url));

type NpdStatus = "OK" | "NonOK" | "Unknown";
interface NpdRow {
  name: string;
  script: string;
  args?: string[];
  timeoutSeconds?: number;
  npd: { status: NpdStatus; message: string; messageIs: "stdout" | "runner"; source: string };
}
interface NpdTable {
  commit: string;
  defaults: Record<"timeoutSeconds" | "maxOutputLength" | "readBytes" | "concurrency", { value: number; source: string }>;
  rows: NpdRow[];
}

/** The transcription, checked for the shape the test relies on (a typo in the data fails here, by row). */
function npdTable(): NpdTable {
  const table = JSON.parse(readFileSync(join(PLUGINS, "npd-protocol.json"), "utf8")) as NpdTable;
  assert.match(table.commit, /^[0-9a-f]{40}$/);
  for (const key of ["timeoutSeconds", "maxOutputLength", "readBytes", "concurrency"] as const) assert.equal(typeof table.defaults[key]?.value, "number", key);
  for (const row of table.rows) {
    assert.ok(["OK", "NonOK", "Unknown"].includes(row.npd.status), `${row.name}: status ${row.npd.status}`);
    assert.ok(["stdout", "runner"].includes(row.npd.messageIs), `${row.name}: messageIs`);
    assert.ok(existsSync(join(PLUGINS, row.script)), `${row.name}: ${row.script} exists`);
    assert.ok(row.npd.message.length <= table.defaults.maxOutputLength.value || row.npd.messageIs === "runner", `${row.name}: NPD's message is cut at 80`);
  }
  return table;
}

/** NPD's statuses in node-doctor's words (a problem is `critical` unless the check says otherwise). */
const SEVERITY_OF_NPD: Record<NpdStatus, Severity> = { OK: "ok", NonOK: "critical", Unknown: "unknown" };

/** node-doctor's reason for each row: its own words where NPD's message is its runner's. */
const OUR_REASON: Record<string, string> = {
  "protocol/exit-0.sh": "CheckPassed",
  "protocol/exit-1.sh": "PluginSaysProblem",
  "protocol/exit-2.sh": "PluginUnknown",
  "protocol/exit-42.sh": "PluginUnknown",
  "protocol/not-executable.sh": "PluginFailedToStart",
  "node-doctor/no-shebang.sh": "PluginFailedToStart",
  "node-doctor/missing-interpreter.sh": "PluginFailedToStart",
  "protocol/padded.sh": "PluginSaysProblem",
  "protocol/stderr-only.sh": "PluginSaysProblem",
  "protocol/args.sh": "CheckPassed",
  "protocol/long-line.sh": "PluginSaysProblem",
  "protocol/flood.sh": "PluginSaysProblem",
  "protocol/killed.sh": "PluginUnknown",
  "protocol/sleeps.sh": "PluginTimedOut",
};

/** Running, as opposed to gone or a zombie (killed, waiting for whoever inherited it to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function pluginCheck(path: string, extra: Record<string, unknown> = {}, probe: Record<string, unknown> = {}) {
  return customCheck({
    name: "plugin",
    condition: "PluginProblem",
    probe: { kind: "npd-plugin", path, timeoutSeconds: 2, ...probe },
    problem: { reason: "PluginSaysProblem" },
    ...extra,
  });
}

describe("npd-plugin probe", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nd-npd-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("NPD's defaults: the same timeout and concurrency; node-doctor keeps all NPD reads of stdout, not its 80 characters", () => {
    const { defaults } = npdTable();
    const [parsed] = CHECKS.custom.settings.parse([{ name: "p", condition: "PluginProblem", probe: { kind: "npd-plugin", path: "/p.sh" } }], "checks.custom");
    assert.equal(parsed?.probe.kind, "npd-plugin");
    if (parsed?.probe.kind !== "npd-plugin") return;
    assert.equal(parsed.probe.timeoutSeconds, defaults.timeoutSeconds.value, defaults.timeoutSeconds.source);
    assert.equal(MAX_CONCURRENT_PLUGINS, defaults.concurrency.value, defaults.concurrency.source);
    assert.equal(parsed.probe.maxOutputBytes, defaults.readBytes.value, defaults.readBytes.source);
    assert.ok(parsed.probe.maxOutputBytes > defaults.maxOutputLength.value);
  });

  for (const row of npdTable().rows) {
    it(`NPD's table: ${row.name} → ${row.npd.status}`, async () => {
      const path = join(PLUGINS, row.script);
      const finding = await runOnce(pluginCheck(path, {}, { args: row.args ?? [], timeoutSeconds: row.timeoutSeconds ?? 2 }), checkContext("/"));
      const npd = row.npd;
      const why = `${row.script}: NPD says ${npd.status} (${npd.source}); node-doctor ${finding.severity} ${finding.reason}: ${finding.message}`;
      assert.equal(finding.severity, SEVERITY_OF_NPD[npd.status], why);
      assert.equal(finding.reason, OUR_REASON[row.script], why);
      if (npd.messageIs !== "stdout") return;
      if (npd.message === "") {
        assert.match(finding.message, /exited 1 without output$/, why);
        return;
      }
      // NPD's message is the plugin's stdout cut at 80 bytes: node-doctor's begins with it, and is the same when NPD did not cut.
      assert.ok(finding.message.includes(npd.message), why);
      if (npd.message.length < npdTable().defaults.maxOutputLength.value) {
        if (npd.status === "Unknown") assert.ok(finding.message.endsWith(`: ${npd.message}`), why);
        else assert.equal(finding.message, npd.message, why);
      } else {
        assert.ok(finding.message.startsWith(npd.message) && finding.message.length > npd.message.length, `node-doctor keeps more than NPD's 80: ${why}`);
      }
    });
  }

  it("where NPD cuts at 80 node-doctor keeps the line whole; where NPD's runner speaks, node-doctor names the cause", async () => {
    const long = await runOnce(pluginCheck(join(PLUGINS, "protocol/long-line.sh")), checkContext("/"));
    assert.equal(long.message, `quota-check: ${"q".repeat(107)}`);
    const flood = await runOnce(pluginCheck(join(PLUGINS, "protocol/flood.sh")), checkContext("/"));
    assert.match(flood.message, /^y{4096} … \[output cut at 4096 of 10001 bytes\]$/, "NPD's 4096-byte read, and says it cut");
    const stopped = await runOnce(pluginCheck(join(PLUGINS, "protocol/not-executable.sh")), checkContext("/"));
    assert.match(stopped.message, /not-executable\.sh is not executable/);
    const slow = await runOnce(pluginCheck(join(PLUGINS, "protocol/sleeps.sh"), {}, { timeoutSeconds: 1 }), checkContext("/"));
    assert.match(slow.message, /did not finish within 1 s: it was killed with its process group/);
    const killed = await runOnce(pluginCheck(join(PLUGINS, "protocol/killed.sh")), checkContext("/"));
    assert.match(killed.message, /was killed by SIGKILL: about to be killed$/);
  });

  it("a plugin that hangs is killed at its deadline, with the child it started", async () => {
    const child = join(dir, "child.pid");
    const parent = join(dir, "parent.pid");
    const check = pluginCheck(
      join(PLUGINS, "node-doctor/hang-with-children.sh"),
      {},
      { timeoutSeconds: 1, env: { CHILD_PID_FILE: child, PARENT_PID_FILE: parent } },
    );
    const started = Date.now();
    const finding = await runOnce(check, checkContext("/"));
    const took = Date.now() - started;
    assert.equal(finding.severity, "unknown");
    assert.equal(finding.reason, "PluginTimedOut");
    assert.match(finding.message, /did not finish within 1 s: it was killed with its process group; its output so far: started, now waiting/);
    assert.ok(took >= 1000 && took < 5000, `returned after ${took} ms`);
    const pids = [Number(await readFile(parent, "utf8")), Number(await readFile(child, "utf8"))];
    // SIGKILL is delivered at once; give the kernel a moment to reap.
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(pids.filter(alive), [], "the script and its background sleep are gone");
  });

  it("a plugin that exits leaving a child behind: the child does not outlive the run", async () => {
    const child = join(dir, "daemon.pid");
    const finding = await runOnce(pluginCheck(join(PLUGINS, "node-doctor/daemonizes.sh"), {}, { env: { CHILD_PID_FILE: child } }), checkContext("/"));
    assert.equal(finding.severity, "ok");
    assert.equal(finding.message, "done");
    const pid = Number(await readFile(child, "utf8"));
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(alive(pid), false);
  });

  it("output past the cap is cut and says so; output far beyond 80 characters is kept whole", async () => {
    const chatty = join(PLUGINS, "node-doctor/chatty.sh");
    const cut = await runOnce(pluginCheck(chatty, {}, { env: { BYTES: "10000" } }), checkContext("/"));
    assert.equal(cut.severity, "critical");
    assert.equal(cut.reason, "PluginSaysProblem");
    assert.match(cut.message, /^x{4096} … \[output cut at 4096 of 10001 bytes\]$/);
    const small = await runOnce(pluginCheck(chatty, {}, { env: { BYTES: "300" }, maxOutputBytes: 512 }), checkContext("/"));
    assert.equal(small.message, "x".repeat(300));
  });

  it("a script without #! is refused, not handed to /bin/sh (it does not run)", async () => {
    const marker = join(dir, "ran");
    const finding = await runOnce(pluginCheck(join(PLUGINS, "node-doctor/no-shebang.sh"), {}, { env: { MARKER: marker } }), checkContext("/"));
    assert.equal(finding.severity, "unknown");
    assert.equal(finding.reason, "PluginFailedToStart");
    assert.match(finding.message, /has no #! line and is not an ELF executable: node-doctor runs no shell on its own/);
    assert.equal(existsSync(marker), false, "the script did not run");
  });

  it("a FIFO in the plugin's place is refused at once, naming it, and does not hold a thread: the next file read still answers", async () => {
    const fifo = join(dir, "plugin.fifo");
    await runTool("mkfifo", [fifo]);
    const bounded = <T>(what: string, promise: Promise<T>) =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} blocked on the FIFO`)), 10_000))]);
    try {
      const finding = await bounded("the run", runOnce(pluginCheck(fifo), checkContext("/")));
      assert.equal(finding.reason, "PluginFailedToStart");
      assert.match(finding.message, /plugin\.fifo is not a regular file \(a FIFO, socket or device\): node-doctor runs only a program file/);
      // A blocked open holds one of libuv's four threads per run: after four more, a file read must still answer.
      for (let i = 0; i < 4; i++) await bounded("a later run", runOnce(pluginCheck(fifo), checkContext("/")));
      assert.match(await bounded("a file read", readFile(join(PLUGINS, "node-doctor/no-shebang.sh"), "utf8")), /\S/);
    } finally {
      // Had an open blocked, a writer frees it, so the test process can exit.
      for (let i = 0; i < 5; i++)
        await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then(
          (h) => h.close(),
          () => undefined,
        );
    }
  });

  it("a #! line naming an interpreter the container lacks is named as such", async () => {
    const finding = await runOnce(pluginCheck(join(PLUGINS, "node-doctor/missing-interpreter.sh")), checkContext("/"));
    assert.equal(finding.reason, "PluginFailedToStart");
    assert.match(finding.message, /names the interpreter \/opt\/no-such-dir\/bash in its #! line, which does not exist in node-doctor's container/);
    assert.match(finding.remedy ?? "", /#! line/);
  });

  it("runs at most 3 plugins at once across every npd-plugin check; one that cannot get a slot in time is PluginQueued", async () => {
    const log = join(dir, "concurrency.log");
    const entry = (i: number, timeoutSeconds: number) => ({
      name: `slow-${i}`,
      condition: `SlowPlugin${i}`,
      timeoutSeconds,
      probe: { kind: "npd-plugin", path: join(PLUGINS, "node-doctor/slow-ok.sh"), timeoutSeconds: 2, env: { LOG_FILE: log, SLEEP: "0.6" } },
    });
    // Four checks sharing the agent's runner; the fourth has no time to wait for a slot (timeout 2.6 s - 2 s - 0.5 s).
    const checks = customChecks([entry(1, 10), entry(2, 10), entry(3, 10), entry(4, 2.6), entry(5, 10)]);
    const findings = await Promise.all(checks.map((check) => runOnce(check, checkContext("/"))));
    assert.deepEqual(
      findings.map((f) => f.reason),
      ["CheckPassed", "CheckPassed", "CheckPassed", "PluginQueued", "CheckPassed"],
    );
    assert.match(findings[3]?.message ?? "", /did not get to run: 3 plugins were running for \d+ ms, the most node-doctor runs at once/);
    const events = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((line) => {
        const [what, ns] = line.split(" ");
        return { start: what === "start", at: Number(ns) };
      })
      .sort((a, b) => a.at - b.at);
    let running = 0;
    let most = 0;
    for (const event of events) {
      running += event.start ? 1 : -1;
      most = Math.max(most, running);
    }
    assert.equal(events.length, 8, "four plugins ran");
    assert.equal(most, 3, "never more than 3 at once");
  });

  it("counts the processes it starts, per check, in node_doctor_custom_processes_spawned_total", async () => {
    const check = pluginCheck(join(PLUGINS, "protocol/exit-0.sh"));
    const metrics = createMetricsSink({ nodeName: "w", version: "1", checkNames: [check.name, "custom/other"] });
    for (let i = 0; i < 3; i++) {
      const findings = await check.run(checkContext("/"));
      metrics.onCheckRun?.(
        { check: check.name, startedAtMs: 0, durationMs: 1, outcome: "ok", findings },
        { conditions: () => [], condition: () => undefined, lastRun: () => undefined, runs: () => [], firstRoundDone: () => true },
      );
    }
    const text = await metrics.registry.metrics();
    assert.match(text, /node_doctor_custom_processes_spawned_total\{check="custom\/plugin",node="w"\} 3/);
    const lint = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
    const doc = await readFile(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    assert.ok(doc.includes("`node_doctor_custom_processes_spawned_total`"), "documented in docs/metrics.md");
  });
});
