/** The real clock. Timers are unref'd: only the server and explicit work keep the process alive. */
import type { Clock, TimerHandle } from "../types.js";

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { timer };
  },
  clearTimeout(handle: TimerHandle) {
    clearTimeout(handle.timer as NodeJS.Timeout);
  },
};

/** Resolves after `ms` on the given clock, or rejects when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The real clock with timers that keep the process alive: a shutdown's grace period runs to its end even when nothing else is pending. */
export const shutdownClock: Clock = {
  ...systemClock,
  setTimeout(callback, ms) {
    return { timer: setTimeout(callback, ms) };
  },
};
