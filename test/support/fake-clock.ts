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

/**
 * Timers in a binary heap ordered by (due time, creation order): the conditions
 * tests hold a few, the fleet bench thousands, and firing one costs log n.
 */
class TimerHeap {
  private readonly heap: Timer[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Timer | undefined {
    return this.heap[0];
  }

  push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return top;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }

  count(predicate: (timer: Timer) => boolean): number {
    return this.heap.filter(predicate).length;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class FakeClock implements Clock {
  private wallMs: number;
  private monoMs = 0;
  private seq = 0;
  private readonly timers = new TimerHeap();

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
    return this.timers.count((t) => !t.cancelled);
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
      const next = this.timers.peek();
      if (!next || next.at > target) break;
      this.timers.pop();
      if (next.cancelled) continue;
      this.wallMs += next.at - this.monoMs;
      this.monoMs = next.at;
      next.callback();
      await settleBetween();
    }
    this.wallMs += target - this.monoMs;
    this.monoMs = target;
    await settleBetween();
  }

  /**
   * Lets `work` run while this clock follows real time in `stepMs` steps, until it settles:
   * for a run whose real I/O hangs until a deadline on this clock cuts it.
   */
  async drive<T>(work: Promise<T>, stepMs = 10): Promise<T> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    done.catch(() => undefined);
    while (!settled) {
      await new Promise((resolve) => setTimeout(resolve, stepMs));
      if (!settled) await this.advance(stepMs);
    }
    return done;
  }

  /** Steps only the wall clock, as when NTP or an operator sets the time. */
  jumpWall(ms: number): void {
    this.wallMs += ms;
  }
}
