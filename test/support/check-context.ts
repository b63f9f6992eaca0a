/** A CheckContext for running one check directly against a fixture root. */
import { RootedHost } from "../../src/node/host.js";
import { systemClock } from "../../src/time/clock.js";
import { trustedNowFrom } from "../../src/engine/scheduler.js";
import type { CheckContext, Clock, ClusterReader, Finding, Log, SharedFacts } from "../../src/types.js";

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export function checkContext(
  root: string,
  options: { clock?: Clock; facts?: SharedFacts; cluster?: ClusterReader; peers?: Record<string, Finding[]>; timeoutMs?: number } = {},
): CheckContext {
  const clock = options.clock ?? systemClock;
  const facts = options.facts ?? {};
  return {
    host: new RootedHost(root),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    clock,
    trustedNow: () => trustedNowFrom(clock, facts),
    facts,
    ...(options.cluster ? { cluster: options.cluster } : {}),
    log: silentLog,
    peerFindings: (check) => options.peers?.[check] ?? [],
  };
}
