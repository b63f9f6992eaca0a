/** The one deadline helper, driven by the fake clock. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deadline, DeadlineError, untilAborted, withDeadline, within } from "../../src/time/deadline.js";
import { FakeClock, settle } from "../support/fake-clock.js";

describe("deadline", () => {
  it("aborts with a TimeoutError naming the work and the time when the clock passes it", async () => {
    const clock = new FakeClock();
    const d = deadline(clock, 1500, undefined, "GET /healthz");
    await clock.advance(1499);
    assert.equal(d.signal.aborted, false);
    await clock.advance(1);
    assert.equal(d.signal.aborted, true);
    assert.ok(d.signal.reason instanceof DeadlineError);
    assert.equal((d.signal.reason as Error).name, "TimeoutError");
    assert.equal((d.signal.reason as Error).message, "GET /healthz: no answer within 1.5 s");
  });

  it("aborts at once with the parent's reason, and cleared it never fires", async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const d = deadline(clock, 1000, parent.signal);
    parent.abort(new Error("shutting down"));
    assert.equal((d.signal.reason as Error).message, "shutting down");
    const already = deadline(clock, 1000, parent.signal);
    assert.equal(already.signal.aborted, true);
    const cleared = deadline(clock, 10, undefined);
    cleared.clear();
    await clock.advance(100);
    assert.equal(cleared.signal.aborted, false);
  });

  it("within: the work's value, or undefined once the clock passes the time or the signal aborts; a rejection passes through", async () => {
    const clock = new FakeClock();
    assert.equal(await within(clock, 100, Promise.resolve(3)), 3);
    assert.equal(clock.pending(), 0, "the timer is cleared when the work ends first");
    const hung = within(clock, 100, new Promise<number>(() => undefined));
    await clock.advance(100);
    assert.equal(await hung, undefined);
    const parent = new AbortController();
    const aborted = within(clock, 100, new Promise<number>(() => undefined), parent.signal);
    parent.abort();
    assert.equal(await aborted, undefined);
    await assert.rejects(within(clock, 100, Promise.reject(new Error("could not read"))), /could not read/);
    assert.equal(clock.pending(), 0);
  });

  it("withDeadline clears its timer when the work ends first", async () => {
    const clock = new FakeClock();
    let seen: AbortSignal | undefined;
    const value = await withDeadline(clock, 50, undefined, async (signal) => {
      seen = signal;
      return 7;
    });
    assert.equal(value, 7);
    await clock.advance(100);
    assert.equal(seen?.aborted, false);
  });

  it("untilAborted stops waiting when the signal aborts", async () => {
    const clock = new FakeClock();
    const d = deadline(clock, 10);
    const waiting = assert.rejects(untilAborted(new Promise(() => undefined), d.signal), { name: "TimeoutError" });
    await clock.advance(10);
    await settle();
    await waiting;
  });
});
