/**
 * A clock whose time moves only when the test says so. Timers fire in order
 * as time advances; between timers the test's promise chains get to settle,
 * so hours of heartbeats and backoff run in milliseconds.
 */
import type { Clock, TimerHandle } from "../../src/types.js";

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Lets pending promise chains (and quick real I/O callbacks) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private wallMs: number;
  private monoMs = 0;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(startWallMs = Date.parse("2026-11-24T12:00:00Z")) {
    this.wallMs = startWallMs;
  }

  now(): number {
    return this.wallMs;
  }

  monotonic(): number {
    return this.monoMs;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.monoMs + Math.max(0, ms), seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return { timer };
  }

  clearTimeout(handle: TimerHandle): void {
    (handle.timer as Timer).cancelled = true;
  }

  /** Timers still waiting to fire. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves both clocks forward by `ms`, firing due timers in order. After each
   * timer, `settleBetween` runs (default: a few event-loop turns) so work the
   * timer started can schedule its next timer before time moves on.
   */
  async advance(ms: number, settleBetween: () => Promise<void> = () => settle()): Promise<void> {
    const target = this.monoMs + ms;
    await settleBetween();
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.wallMs += next.at - this.monoMs;
      this.monoMs = next.at;
      next.callback();
      await settleBetween();
    }
    this.wallMs += target - this.monoMs;
    this.monoMs = target;
    await settleBetween();
  }

  /** Steps only the wall clock, as when NTP or an operator sets the time. */
  jumpWall(ms: number): void {
    this.wallMs += ms;
  }
}
