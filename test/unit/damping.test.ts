import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConditionDamper, type DampingSettings } from "../../src/engine/damping.js";
import type { Severity } from "../../src/types.js";

const settings: DampingSettings = { consecutiveRuns: 2, holdMs: 60_000, flapTransitions: 4, flapWindowMs: 600_000 };
const c = (severity: Severity, reason = severity === "ok" ? "Healthy" : "Broken", payload = "") => ({ severity, reason, payload });

describe("ConditionDamper", () => {
  it("accepts the first observation at once", () => {
    const damper = new ConditionDamper<string>(settings);
    assert.equal(damper.step(c("critical"), 0).transition, true);
    assert.equal(damper.current?.severity, "critical");
  });

  it("accepts a change only after it holds for consecutiveRuns runs", () => {
    const damper = new ConditionDamper<string>(settings);
    damper.step(c("ok"), 0);
    assert.equal(damper.step(c("critical"), 10_000).transition, false);
    assert.equal(damper.current?.severity, "ok");
    const second = damper.step(c("critical"), 20_000);
    assert.equal(second.transition, true);
    assert.equal(second.previous?.severity, "ok");
    assert.equal(damper.current?.sinceMs, 20_000);
  });

  it("accepts a change that holds for holdMs even with consecutiveRuns unmet", () => {
    const damper = new ConditionDamper<string>({ ...settings, consecutiveRuns: 100 });
    damper.step(c("ok"), 0);
    damper.step(c("warning"), 1_000);
    assert.equal(damper.step(c("warning"), 61_000).transition, true);
  });

  it("takes message-only changes without a transition", () => {
    const damper = new ConditionDamper<string>(settings);
    damper.step(c("warning", "Low", "90% full"), 0);
    const step = damper.step(c("warning", "Low", "91% full"), 10_000);
    assert.equal(step.transition, false);
    assert.equal(damper.current?.payload, "91% full");
  });

  it("holds a flapping condition at the worst state and stops transitioning", () => {
    const damper = new ConditionDamper<string>(settings);
    let transitions = 0;
    for (let i = 0; i < 60; i++) {
      // ok, ok, critical, critical, ... : each change holds two runs, so undamped it would transition every 2 runs
      const severity: Severity = Math.floor(i / 2) % 2 === 0 ? "ok" : "critical";
      if (damper.step(c(severity), i * 10_000).transition) transitions++;
    }
    // The first state, then at most flapTransitions - 1 changes before flapping is detected, then none.
    assert.ok(transitions <= settings.flapTransitions, `expected at most ${settings.flapTransitions} transitions, got ${transitions}`);
    assert.equal(damper.current?.severity, "critical");
    assert.equal(damper.current?.flapping, true);
  });

  it("leaves the flapping state once the window calms down", () => {
    const damper = new ConditionDamper<string>(settings);
    for (let i = 0; i < 20; i++) damper.step(c(i % 2 === 0 ? "ok" : "critical"), i * 10_000);
    assert.equal(damper.current?.flapping, true);
    let t = 200_000;
    for (; t < 200_000 + 700_000; t += 10_000) damper.step(c("ok"), t);
    assert.equal(damper.current?.severity, "ok");
    assert.equal(damper.current?.flapping, false);
  });
});
