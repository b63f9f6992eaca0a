/**
 * The npd-plugin probe runs node-problem-detector's own plugin scripts,
 * unchanged, and gives NPD's verdicts: each script runs through NPD's own
 * runner (its plugin.go, built as an oracle) and through node-doctor, in the
 * same environment, and the two must agree — ok, problem or unknown, and the
 * message, except that node-doctor keeps far more than NPD's 80 characters.
 * A hanging plugin dies at its deadline with its children; output past the
 * cap is cut and says so; a script without `#!` is refused, not handed to sh.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { Finding, Severity } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { customCheck, customChecks, runOnce } from "../support/custom-checks.js";
import { npdVerdicts } from "../support/npd-oracle.js";
import { runTool } from "../support/tools.js";

const PLUGINS = fileURLToPath(new URL("../fixtures/npd-plugins/", import.meta.url));
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** NPD's verdicts in node-doctor's words. */
const SEVERITY_OF_NPD: Record<0 | 1 | 2, Severity> = { 0: "ok", 1: "critical", 2: "unknown" };

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
  let state: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nd-npd-"));
    state = join(dir, "stub-state");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** The same plugins through NPD's runner and node-doctor's, in the same environment. */
  async function compare(paths: string[], env: Record<string, string>) {
    const npd = await npdVerdicts(paths, { timeoutSeconds: 1, env });
    const ours: Finding[] = [];
    for (const path of paths) ours.push(await runOnce(pluginCheck(path, {}, { env, timeoutSeconds: 1 }), checkContext("/")));
    return paths.map((path, i) => ({ path, npd: npd[i], ours: ours[i] as Finding }));
  }

  it("NPD's own verdict table (plugin_test.go's scripts): same status; the same message, but never cut at 80 characters", async () => {
    const scripts = [
      "ok",
      "non-ok",
      "unknown",
      "non-executable",
      "longer-than-80-stdout-with-ok-exit-status",
      "non-defined-exit-status",
      "sleep-3-second-with-ok-exit-status",
    ];
    const rows = await compare(
      scripts.map((s) => join(PLUGINS, "test-data", `${s}.sh`)),
      { PATH: SYSTEM_PATH },
    );
    const expected: Record<string, [Severity, string]> = {
      ok: ["ok", "CheckPassed"],
      "non-ok": ["critical", "PluginSaysProblem"],
      unknown: ["unknown", "PluginUnknown"],
      "non-executable": ["unknown", "PluginFailedToStart"],
      "longer-than-80-stdout-with-ok-exit-status": ["ok", "CheckPassed"],
      "non-defined-exit-status": ["unknown", "PluginUnknown"],
      "sleep-3-second-with-ok-exit-status": ["unknown", "PluginTimedOut"],
    };
    for (const [i, { npd, ours }] of rows.entries()) {
      const name = scripts[i] as string;
      assert.ok(npd, name);
      assert.equal(ours.severity, SEVERITY_OF_NPD[npd.status], `${name}: NPD says ${npd.status} (${npd.output}), node-doctor ${ours.severity}`);
      assert.deepEqual([ours.severity, ours.reason], expected[name], name);
      if (npd.status !== 2)
        assert.ok(ours.message.startsWith(npd.output), `${name}: ${JSON.stringify(ours.message)} begins with NPD's ${JSON.stringify(npd.output)}`);
    }
    const long = rows.find((r) => r.path.includes("longer-than-80"));
    assert.equal(long?.npd?.output.length, 80, "NPD cuts at 80 characters");
    assert.equal(long?.ours.message, "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789", "node-doctor keeps all 90");
    assert.match(rows.find((r) => r.path.includes("non-executable"))?.ours.message ?? "", /non-executable\.sh is not executable/);
    assert.match(rows.find((r) => r.path.includes("sleep-3"))?.ours.message ?? "", /did not finish within 1 s: it was killed with its process group/);
  });

  for (const up of [true, false]) {
    it(`NPD's shipped plugins (config/plugin/*.sh), unchanged, with the services they look at ${up ? "up" : "down"}: NPD's verdicts and messages`, async () => {
      await writeFile(state, up ? "up\n" : "down\n");
      const shipped = ["check_ntp.sh", "dns_problem.sh", "iptables_mode.sh", "network_problem.sh"];
      const rows = await compare(
        shipped.map((s) => join(PLUGINS, "config/plugin", s)),
        { PATH: `${join(PLUGINS, "stubs")}:${SYSTEM_PATH}`, NPD_STUB_STATE: state },
      );
      for (const { path, npd, ours } of rows) {
        assert.ok(npd, path);
        assert.equal(ours.severity, SEVERITY_OF_NPD[npd.status], `${path}: NPD ${npd.status} (${npd.output}), node-doctor ${ours.severity} (${ours.message})`);
        // The message is NPD's (NPD's own newline inside iptables_mode.sh's output aside: a message is one line).
        assert.equal(ours.message.replace(/\s+/g, " "), npd.output.replace(/\s+/g, " "), path);
      }
      const byName = (name: string) => rows.find((r) => r.path.endsWith(name))?.ours;
      assert.equal(byName("check_ntp.sh")?.message, up ? "ntp.service is running" : "ntp.service is not running");
      assert.equal(byName("check_ntp.sh")?.severity, up ? "ok" : "critical");
      assert.equal(byName("dns_problem.sh")?.severity, up ? "ok" : "critical");
      assert.equal(byName("iptables_mode.sh")?.severity, "ok", "it echoes its status instead of exiting with it: ok in NPD too");
      assert.match(byName("network_problem.sh")?.message ?? "", /^Conntrack table usage( over 90%)?: \d+ out of \d+$/, "read from this machine's /proc");
    });
  }

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
    assert.match(findings[3]?.message ?? "", /did not get to run: 3 plugins were running for 0\.\d+ s, the most node-doctor runs at once/);
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
    const check = pluginCheck(join(PLUGINS, "test-data/ok.sh"));
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
