import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FACTS_FIRST_WAIT_MS, Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { RootedHost } from "../../src/node/host.js";
import type { Check, CheckRun, ConditionType, Finding, Sink, Transition } from "../../src/types.js";
import { FakeClock } from "../support/fake-clock.js";
import { silentLog } from "../support/check-context.js";

const damping = { consecutiveRuns: 2, holdMs: 60_000, flapTransitions: 4, flapWindowMs: 600_000 };

function fixedCheck(name: string, condition: ConditionType, findings: () => Finding[], intervalMs = 10_000): Check {
  return { name, conditions: [condition], intervalMs, timeoutMs: 1_000, run: async () => findings() };
}

function harness(checks: Check[]) {
  const clock = new FakeClock();
  const runs: CheckRun[] = [];
  const transitions: Transition[] = [];
  const sink: Sink = { name: "record", onCheckRun: (run) => runs.push(run), onTransitions: (t) => transitions.push(...t) };
  const state = new NodeState(checks, [sink], damping, silentLog);
  const scheduler = new Scheduler(checks, {
    host: new RootedHost("/"),
    clock,
    state,
    log: silentLog,
    logFor: () => silentLog,
    jitterRatio: 0,
  });
  return { clock, runs, transitions, state, scheduler };
}

describe("scheduler", () => {
  it("cuts a hanging check at its timeout, reports it unknown, and keeps the others running", async () => {
    let signalSeen: AbortSignal | undefined;
    const hanging: Check = {
      name: "hangs",
      conditions: ["ClockSkewed"],
      intervalMs: 10_000,
      timeoutMs: 2_000,
      run: (ctx) => {
        signalSeen = ctx.signal;
        return new Promise<Finding[]>(() => undefined); // ignores its signal entirely
      },
    };
    const healthy = fixedCheck("disk", "DiskSpaceLow", () => []);
    const { clock, runs, state, scheduler } = harness([hanging, healthy]);
    const started = scheduler.start();
    await clock.advance(2_000);
    await started;
    const hungRun = runs.find((r) => r.check === "hangs");
    assert.equal(hungRun?.outcome, "timeout");
    assert.equal(signalSeen?.aborted, true, "the check's signal is aborted at the timeout");
    assert.deepEqual(
      hungRun?.findings.map((f) => [f.condition, f.severity, f.reason]),
      [["ClockSkewed", "unknown", "CheckTimedOut"]],
    );
    assert.match(hungRun?.findings[0]?.message ?? "", /The hangs check could not look: it did not finish within 2 s\./);
    assert.equal(state.condition("ClockSkewed")?.status, "Unknown");
    assert.equal(state.condition("DiskSpaceLow")?.status, "False");

    await clock.advance(60_000);
    assert.ok(runs.filter((r) => r.check === "disk").length >= 6, "the healthy check kept running");
    const later = runs.filter((r) => r.check === "hangs").slice(1);
    assert.ok(later.length > 0 && later.every((r) => r.outcome === "overrun"), "a check never overlaps itself");
    assert.deepEqual(scheduler.stuckChecks(), ["hangs"]);
    await scheduler.stop(0);
  });

  it("turns a throw into CheckFailed naming the error", async () => {
    const throwing: Check = {
      name: "certificates",
      conditions: ["KubeletCertificateInvalid"],
      intervalMs: 10_000,
      timeoutMs: 1_000,
      run: async () => {
        throw new Error("/var/lib/kubelet/pki: permission denied");
      },
    };
    const { runs, scheduler } = harness([throwing]);
    await scheduler.runOnce();
    assert.equal(runs[0]?.outcome, "error");
    assert.equal(runs[0]?.findings[0]?.reason, "CheckFailed");
    assert.equal(runs[0]?.findings[0]?.message, "The certificates check could not look: /var/lib/kubelet/pki: permission denied.");
  });

  it("a check that writes shared facts runs first: the clock's offset reaches the certificates check on the first round", async () => {
    const seen: string[] = [];
    const clockCheck: Check = {
      name: "clock",
      conditions: ["ClockSkewed"],
      writesFacts: true,
      intervalMs: 10_000,
      timeoutMs: 5_000,
      run: async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 30)); // a real NTP round trip
        ctx.facts.clockOffset = { source: "apiserver", offsetMs: 3 * 3_600_000, uncertaintyMs: 500, measuredAtMonotonicMs: ctx.clock.monotonic() };
        return [];
      },
    };
    const certificates: Check = {
      name: "certificates",
      conditions: ["KubeletCertificateInvalid"],
      intervalMs: 10_000,
      timeoutMs: 1_000,
      run: async (ctx) => {
        seen.push(ctx.trustedNow().source);
        return [];
      },
    };
    // Listed before the clock check: the registry's order must not matter.
    const { runs, scheduler } = harness([certificates, clockCheck]);
    await scheduler.runOnce();
    assert.deepEqual(seen, ["apiserver"]);
    assert.deepEqual(
      runs.map((r) => r.check),
      ["clock", "certificates"],
    );
  });

  it("a fact writer that hangs delays the others by FACTS_FIRST_WAIT_MS at most", async () => {
    const hanging: Check = {
      name: "clock",
      conditions: ["ClockSkewed"],
      writesFacts: true,
      intervalMs: 10_000,
      timeoutMs: 60_000,
      run: () => new Promise<Finding[]>(() => undefined),
    };
    let startedAtMs = -1;
    const disk: Check = {
      name: "disk",
      conditions: ["DiskSpaceLow"],
      intervalMs: 10_000,
      timeoutMs: 1_000,
      run: async (ctx) => ((startedAtMs = ctx.clock.monotonic()), []),
    };
    const { clock, scheduler } = harness([hanging, disk]);
    void scheduler.runOnce();
    // The wait is on the injected clock: the disk check starts when it has passed, not before.
    await clock.advance(FACTS_FIRST_WAIT_MS - 1);
    assert.equal(startedAtMs, -1, "the disk check waits for the fact writer");
    await clock.advance(1);
    assert.equal(startedAtMs, FACTS_FIRST_WAIT_MS, `disk started after ${startedAtMs} ms`);
    await scheduler.stop(10);
  });

  it("schedules each check on its own interval, after the previous run ends", async () => {
    const fast = fixedCheck("fast", "DiskSpaceLow", () => [], 5_000);
    const slow = fixedCheck("slow", "ClockSkewed", () => [], 30_000);
    const { clock, runs, scheduler } = harness([fast, slow]);
    await scheduler.start();
    await clock.advance(60_000);
    assert.equal(runs.filter((r) => r.check === "fast").length, 13);
    assert.equal(runs.filter((r) => r.check === "slow").length, 3);
    await scheduler.stop(0);
    const count = runs.length;
    await clock.advance(60_000);
    assert.equal(runs.length, count, "nothing runs after stop()");
  });

  it("damps a new critical until it holds, then reports one transition", async () => {
    let severity: Finding["severity"] = "ok";
    const check = fixedCheck("kubelet", "KubeletUnhealthy", () =>
      severity === "ok" ? [] : [{ check: "kubelet", condition: "KubeletUnhealthy", severity, reason: "KubeletNotRunning", message: "no kubelet process" }],
    );
    const { clock, transitions, state, scheduler } = harness([check]);
    await scheduler.start();
    assert.equal(transitions.length, 1, "the first state is a transition");
    severity = "critical";
    await clock.advance(10_000);
    assert.equal(state.condition("KubeletUnhealthy")?.status, "False", "one critical run is not enough");
    await clock.advance(10_000);
    assert.equal(state.condition("KubeletUnhealthy")?.status, "True");
    assert.equal(state.condition("KubeletUnhealthy")?.reason, "KubeletNotRunning");
    assert.equal(transitions.length, 2);
    assert.equal(transitions[1]?.from?.status, "False");
    await scheduler.stop(0);
  });

  it("the first state of a condition waits for every check that feeds it", async () => {
    const a = fixedCheck("a", "KubeletUnhealthy", () => []);
    const b: Check = { ...fixedCheck("b", "KubeletUnhealthy", () => []), run: () => new Promise((r) => setTimeout(() => r([]), 20)) };
    const { state, scheduler } = harness([a, b]);
    const run = scheduler.runOnce();
    await new Promise((r) => setImmediate(r));
    assert.equal(state.condition("KubeletUnhealthy"), undefined);
    await run;
    assert.equal(state.condition("KubeletUnhealthy")?.status, "False");
  });
});
