/**
 * The one way to put a deadline on work: a signal that aborts when the caller's signal
 * does or when `ms` pass on the injected clock — so a test's fake clock drives every
 * timeout, and no raw setTimeout or AbortSignal.timeout hides from it.
 */
import type { Clock } from "../types.js";
import { formatLimit } from "../text/format.js";

/** Why a deadline signal aborted on time: `error.name === "TimeoutError"`, the message says how long. */
export class DeadlineError extends Error {
  override readonly name = "TimeoutError";
  constructor(
    readonly ms: number,
    what?: string,
  ) {
    super(`${what ? `${what}: ` : ""}no answer within ${formatLimit(ms)}`);
  }
}

export interface Deadline {
  /** Aborts with the parent's reason, or with a DeadlineError when the time is up. */
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the parent; call it when the work is done. */
  clear(): void;
}

/**
 * A signal for work that must end within `ms` of now (on `clock`), or sooner when
 * `parent` aborts. `what` names the work in the timeout's message ("GET /healthz").
 */
export function deadline(clock: Clock, ms: number, parent?: AbortSignal, what?: string): Deadline {
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear: () => undefined };
  }
  const onParentAbort = () => {
    clock.clearTimeout(timer);
    controller.abort(parent?.reason);
  };
  const timer = clock.setTimeout(
    () => {
      parent?.removeEventListener("abort", onParentAbort);
      controller.abort(new DeadlineError(ms, what));
    },
    Math.max(0, ms),
  );
  parent?.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clock.clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}

/** Runs `work` with a deadline signal and always clears it afterwards. */
export async function withDeadline<T>(
  clock: Clock,
  ms: number,
  parent: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
  what?: string,
): Promise<T> {
  const d = deadline(clock, ms, parent, what);
  try {
    return await work(d.signal);
  } finally {
    d.clear();
  }
}

/**
 * Waits for `promise` at most `ms` on `clock`: its value, or undefined when the time is up or
 * `signal` aborts first (the promise itself runs on). Rejects only when the promise does.
 */
export function within<T>(clock: Clock, ms: number, promise: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const finish = (settle: () => void) => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    const onAbort = () => finish(() => resolve(undefined));
    const timer = clock.setTimeout(onAbort, Math.max(0, ms));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts (the promise itself runs on). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
