/**
 * The NodeConditions sink: node-doctor's own conditions on the Node's status,
 * where `kubectl describe node` shows them, written gently.
 *
 * Write policy (docs/conditions.md):
 * - one strategic-merge PATCH on nodes/<name>/status carrying only our
 *   condition types (merge key `type`): kubelet's and other agents'
 *   conditions are never sent, so never touched;
 * - a write happens when a condition's status or reason differs from what was
 *   last written (transitions arrive already flap-damped by the engine),
 *   coalescing everything that lands within `coalesceMs` into one PATCH, and
 *   on a heartbeat (`heartbeatMs`, stretched by up to `heartbeatJitter` so a
 *   fleet spreads out). A message-only change never writes; the next write
 *   carries the latest message;
 * - `lastTransitionTime` changes only when the status changes (kept from the
 *   Node across agent restarts); `lastHeartbeatTime` on every write;
 * - a failed write is retried with exponential backoff and full jitter
 *   (capped at `backoffCapMs`), waiting at least a 429's Retry-After; while it
 *   waits, new transitions do not write: the retry carries the latest state;
 * - the first successful write also deletes (`$patch: delete`) conditions of
 *   ours that no enabled check produces any more, so none goes stale;
 * - ownership comes from the Node's managedFields (src/kube/ownership.ts),
 *   not from the type's name: a condition of one of our types that another
 *   field manager added (node-problem-detector's KubeletUnhealthy) is never
 *   written nor removed, and said so once in the log;
 * - at start, a Node that already shows every condition of ours with the
 *   same status and reason, nothing to delete, and a heartbeat that is not
 *   yet overdue (younger than `heartbeatMs` × (1 + `heartbeatJitter`)) is
 *   not written at all: the first heartbeat keeps the previous agent's
 *   phase, so a fleet-wide restart (a DaemonSet rollout) costs one GET per
 *   node and no write burst.
 *
 * - a PATCH the API server accepts but whose answer does not show what was
 *   sent (a mutating admission webhook or a proxy dropping our conditions)
 *   is not a success: it is retried with exponential backoff up to one
 *   heartbeat, and said once in the log;
 * - every Node the agent reads (the kubelet check's reads, every 5 minutes;
 *   the sink's own read when nothing else read it for `verifyMs`) is compared
 *   with what we last wrote: a condition of ours another client deleted or
 *   changed is rewritten at once (at most `repairsPerHour` times per type),
 *   with a log line naming who changed it when managedFields say.
 *
 * The agent never waits for this sink: with the API server down it keeps
 * checking and serving; the sink logs once per outage and writes the current
 * state once when the API server answers again.
 */
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { conditionOwners, describeOwners, FIELD_MANAGER, ownershipOf, tracksManagers, type FieldOwner } from "../kube/ownership.js";
import { ApiError } from "../kube/transport.js";
import type { CompatMode } from "../config/config.js";
import { compatTypes, deriveCompat, type WritableCondition } from "./compat.js";
import {
  CONDITION_TYPES,
  isBuiltinConditionType,
  isEksConditionType,
  KUBELET_CONDITION_TYPES,
  type CheckRun,
  type Clock,
  type ConditionState,
  type ConditionType,
  type Log,
  type Sink,
  type StateView,
  type TimerHandle,
  type Transition,
} from "../types.js";
import { errorText, isoTime, printable } from "../text/format.js";
import { DEFAULT_KUBERNETES_SETTINGS } from "../config/config.js";

/** What the sink needs from the API client (KubeClient satisfies it). */
export interface NodeStatusApi {
  getNode(name: string, signal?: AbortSignal, options?: { fromCache?: boolean }): Promise<{ node: Node | null }>;
  patchNodeStatus(name: string, patch: unknown, options?: { signal?: AbortSignal; contentType?: string }): Promise<Node>;
  /** Tells `listener` about every Node this client reads (the checks' reads), so the sink notices tampering without reading more. */
  onNodeRead?(listener: (node: Node) => void): void;
}

export interface ConditionsPolicy {
  heartbeatMs: number;
  /** Each heartbeat waits heartbeatMs × (1 + U(0, heartbeatJitter)). */
  heartbeatJitter: number;
  coalesceMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /**
   * The sink reads the Node itself when no read of it was seen for this long:
   * a little more than the kubelet check's 5-minute reads, so with that check
   * on it never adds one.
   */
  verifyMs: number;
  /** Immediate rewrites of one condition another client changed, per hour; beyond, the heartbeat repairs it. */
  repairsPerHour: number;
}

export const DEFAULT_CONDITIONS_POLICY: ConditionsPolicy = {
  heartbeatMs: DEFAULT_KUBERNETES_SETTINGS.heartbeatSeconds * 1000,
  heartbeatJitter: 0.1,
  coalesceMs: 1_000,
  backoffBaseMs: 1_000,
  backoffCapMs: DEFAULT_KUBERNETES_SETTINGS.backoffCapSeconds * 1000,
  verifyMs: 360_000,
  repairsPerHour: 3,
};

const HOUR_MS = 3_600_000;

/**
 * A heartbeat time on the Node this far ahead of our (offset-corrected) clock
 * still counts as fresh: times are written at one-second precision and the
 * clock check's offset is an estimate. Further ahead, it is not trusted.
 */
export const HEARTBEAT_FUTURE_TOLERANCE_MS = 5_000;

/** Longest condition message written; kubectl shows it on one line. */
export const MAX_CONDITION_MESSAGE = 1024;

export interface ConditionsSinkOptions {
  api: NodeStatusApi;
  nodeName: string;
  /** The condition types the enabled checks produce; ours outside this set are removed. */
  managedTypes: readonly ConditionType[];
  clock: Clock;
  log: Log;
  policy?: Partial<ConditionsPolicy>;
  random?: () => number;
  /**
   * How far the cluster's clock is ahead of this host's (the clock check's
   * estimate; 0 when there is none): added to the times written, so a node
   * whose clock is wrong still writes times the cluster can compare.
   */
  clockOffsetMs?: () => number;
  /**
   * `eks`: also writes the EKS node monitoring agent's condition types derived
   * from ours (src/sinks/compat.ts), unless another manager writes any of them
   * on this Node. Default `none`.
   */
  compat?: CompatMode;
}

export type WriteCause = "transition" | "heartbeat" | "retry" | "startup" | "repair";

/** RFC 3339 at one-second precision, as the API server stores metav1.Time. */
export function apiTime(ms: number): string {
  return isoTime(Math.floor(ms / 1000) * 1000);
}

export function conditionMessage(state: Pick<WritableCondition, "message" | "remedy">): string {
  const text = printable(state.remedy ? `${state.message} Remedy: ${state.remedy}` : state.message);
  return text.length > MAX_CONDITION_MESSAGE ? `${text.slice(0, MAX_CONDITION_MESSAGE - 1)}…` : text;
}

/** The condition as written: times from what the Node already says when the status has not changed. */
export function toNodeCondition(state: WritableCondition, previous: NodeCondition | undefined, nowMs: number, offsetMs = 0): NodeCondition {
  const keepTransition = previous && previous.status === state.status && previous.lastTransitionTime;
  return {
    type: state.type,
    status: state.status,
    reason: state.reason,
    message: conditionMessage(state),
    lastHeartbeatTime: apiTime(nowMs + offsetMs),
    lastTransitionTime: keepTransition ? (previous.lastTransitionTime as string) : apiTime(Math.min(state.sinceMs, nowMs) + offsetMs),
  };
}

export class ConditionsSink implements Sink {
  readonly name = "conditions";
  private readonly policy: ConditionsPolicy;
  private readonly random: () => number;
  /** The condition types the enabled checks produce (configured custom types among them). */
  private readonly managed: ReadonlySet<string>;
  /** The compatibility types written (compat.conditions), each with a feeder among the managed types. */
  private readonly compat: ReadonlySet<string>;
  /** Another manager writes one of the compatibility types here: node-doctor writes none of them (who, for the log). */
  private compatYield?: string;
  private state?: StateView;
  /** Our conditions as the Node last showed them (after our last successful write, or read at start). */
  private written = new Map<string, NodeCondition>();
  /** Conditions of our types that another field manager owns on this Node, with who holds them. */
  private foreign = new Map<string, FieldOwner[]>();
  private saidUntracked = false;
  private synced = false;
  private timer?: { handle: TimerHandle; cause: WriteCause; atMs: number };
  private inFlight?: Promise<void>;
  private abort = new AbortController();
  private failures = 0;
  private outageSinceMs?: number;
  /** While the API server accepts our PATCHes but its answers do not show them. */
  private dropped?: { sinceMs: number; attempts: number };
  /** resourceVersion of the newest Node seen: an older (cached) read is not news. */
  private seenRv?: string;
  private verifyTimer?: TimerHandle;
  private verifying?: Promise<void>;
  /** Monotonic times of immediate rewrites per type, for the per-hour bound; and the types said to be fought over. */
  private readonly repairs = new Map<string, number[]>();
  private readonly fought = new Set<string>();
  private closed = false;
  /** Writes that reached the API server and succeeded, by cause (for tests and the bench). */
  readonly writes: Record<WriteCause, number> = { transition: 0, heartbeat: 0, retry: 0, startup: 0, repair: 0 };
  /** Start-ups that found the Node already current and wrote nothing (for tests and the bench). */
  startupWritesSkipped = 0;

  constructor(private readonly options: ConditionsSinkOptions) {
    this.policy = { ...DEFAULT_CONDITIONS_POLICY, ...options.policy };
    this.random = options.random ?? Math.random;
    this.compat = new Set<string>(compatTypes(options.compat ?? "none", options.managedTypes));
    this.managed = new Set<string>([...options.managedTypes, ...this.compat]);
    options.api.onNodeRead?.((node) => {
      try {
        this.observe(node);
      } catch (error) {
        options.log.error({ err: errorText(error) }, "could not compare the Node with our conditions");
      }
    });
  }

  onCheckRun(_run: CheckRun, state: StateView): void {
    this.state = state;
    // Nothing may ever transition (no check produces a condition): still clean up stale ones once.
    if (!this.synced && !this.timer && !this.inFlight && state.firstRoundDone()) this.schedule("startup", this.policy.coalesceMs);
  }

  onTransitions(_transitions: readonly Transition[], state: StateView): void {
    this.state = state;
    if (!this.needsWrite()) return;
    // A pending retry or an earlier coalesced write will carry this state.
    if (this.timer && (this.timer.cause !== "heartbeat" || this.timer.atMs <= this.options.clock.monotonic() + this.policy.coalesceMs)) return;
    if (this.inFlight) return; // re-checked when the write finishes
    this.schedule("transition", this.policy.coalesceMs);
  }

  /** True when some condition's status or reason differs from what the Node shows. */
  private needsWrite(): boolean {
    return !this.synced || this.differsFromWritten(this.desired());
  }

  private differsFromWritten(desired: readonly WritableCondition[]): boolean {
    for (const c of desired) {
      const have = this.written.get(c.type);
      if (!have || have.status !== c.status || have.reason !== c.reason) return true;
    }
    return false;
  }

  private desired(): WritableCondition[] {
    const states = this.state?.conditions() ?? [];
    const ours: WritableCondition[] = states.filter((c) => this.managed.has(c.type) && !this.foreign.has(c.type));
    if (this.compat.size === 0 || this.compatYield !== undefined) return ours;
    const compat = deriveCompat([...this.compat].filter(isEksConditionType), states).filter((c) => !this.foreign.has(c.type));
    return [...ours, ...compat];
  }

  /** Takes in what the Node shows: our conditions into `written`, and which of our types another manager owns. */
  private see(node: Node): void {
    const { log } = this.options;
    const { ours, foreign } = splitByOwner(node, this.managed);
    this.seeCompat(node, foreign);
    for (const [type, others] of foreign) {
      if (this.foreign.has(type) || this.compat.has(type)) continue;
      log.warn(
        { condition: type, owners: describeOwners(others) },
        `${type} on this Node belongs to another field manager (${others.map((o) => o.manager).join(", ")}): node-doctor neither writes nor removes it; its findings stay in /findings and the metrics (docs/conditions.md, Ownership)`,
      );
    }
    for (const type of this.foreign.keys()) {
      if (!foreign.has(type)) log.info({ condition: type }, `${type} is no longer another field manager's: node-doctor writes it`);
    }
    if (!this.saidUntracked && ours.size > 0 && !tracksManagers(node)) {
      this.saidUntracked = true;
      log.warn(
        {},
        "the Node carries no managedFields (API server older than 1.18, or a proxy strips them): node-doctor cannot tell other writers' conditions from its own and owns its condition types by name",
      );
    }
    this.written = ours;
    this.foreign = foreign;
  }

  /**
   * The compatibility types are another agent's vocabulary: when any manager
   * but node-doctor holds the status of any of them on this Node (the EKS node
   * monitoring agent runs there), node-doctor writes none of them, and says so
   * once; it writes them again once none is held by another.
   */
  private seeCompat(node: Node, foreign: ReadonlyMap<string, FieldOwner[]>): void {
    if (this.compat.size === 0) return;
    const owners = conditionOwners(node);
    const holders: FieldOwner[] = [];
    for (const type of this.compat) {
      const others = foreign.get(type) ?? (owners.get(type) ?? []).filter((o) => o.manager !== FIELD_MANAGER && (o.added || o.fields.includes("status")));
      holders.push(...others);
    }
    const managers = [...new Set(holders.map((h) => h.manager))].join(", ");
    if (holders.length > 0 && this.compatYield === undefined) {
      this.options.log.warn(
        { conditions: [...this.compat], owners: describeOwners(holders) },
        `another agent (${managers}) writes the EKS condition types on this Node: node-doctor writes none of ${[...this.compat].join(", ")} here (compat.conditions: eks; docs/remediation.md)`,
      );
    } else if (holders.length === 0 && this.compatYield !== undefined) {
      this.options.log.info({ conditions: [...this.compat] }, "no other agent writes the EKS condition types on this Node any more: node-doctor writes them");
    }
    this.compatYield = holders.length > 0 ? managers : undefined;
  }

  /**
   * A Node read elsewhere in the agent (or by verify()): a condition of ours
   * another client removed or changed since our last write is rewritten at
   * once, naming who changed it when managedFields say. Reads older than
   * what we have seen (a watch cache behind our last write) are not news.
   */
  observe(node: Node): void {
    if (this.closed || !this.synced || this.inFlight || node.metadata?.name !== this.options.nodeName) return;
    const rv = node.metadata?.resourceVersion;
    if (rv !== undefined && this.seenRv !== undefined && (rv === this.seenRv || olderResourceVersion(rv, this.seenRv))) return;
    if (rv !== undefined) this.seenRv = rv;
    this.scheduleVerify();
    const before = this.written;
    this.see(node);
    if (this.dropped) return; // the retry carries our state
    const produced = new Set<string>(this.desired().map((c) => c.type));
    const changes = changesBy(before, node).filter((c) => produced.has(c.type) && !this.foreign.has(c.type));
    if (changes.length === 0) return;
    const now = this.options.clock.monotonic();
    let repair = false;
    for (const change of changes) {
      const recent = (this.repairs.get(change.type) ?? []).filter((at) => now - at < HOUR_MS);
      const atOnce = recent.length < this.policy.repairsPerHour;
      if (atOnce) recent.push(now);
      this.repairs.set(change.type, recent);
      repair ||= atOnce;
      const fields = { condition: change.type, change: change.what, by: change.by || "unknown (managedFields do not record removals)" };
      if (atOnce)
        this.options.log.warn(fields, `another client ${change.what === "removed" ? "removed" : "changed"} node-doctor's ${change.type}: rewriting it now`);
      else if (!this.fought.has(change.type)) {
        this.fought.add(change.type);
        this.options.log.warn(
          { ...fields, repairsPerHour: this.policy.repairsPerHour },
          `another client keeps changing node-doctor's ${change.type}: it is now rewritten at each heartbeat only; look for a second writer of ${change.type}`,
        );
      }
    }
    if (repair && this.timer?.cause !== "retry") this.schedule("repair", this.policy.coalesceMs);
  }

  /** Reads the Node when nothing has for verifyMs (the kubelet check off), so tampering is still noticed. */
  private scheduleVerify(): void {
    if (this.closed) return;
    if (this.verifyTimer) this.options.clock.clearTimeout(this.verifyTimer);
    this.verifyTimer = this.options.clock.setTimeout(() => {
      this.verifyTimer = undefined;
      if (!this.synced || this.inFlight || this.timer?.cause === "retry") return this.scheduleVerify();
      const read = this.options.api
        .getNode(this.options.nodeName, this.abort.signal, { fromCache: true })
        .then(({ node }) => node && this.observe(node))
        .catch((error: unknown) => this.options.log.debug({ err: errorText(error) }, "could not read the Node"))
        .finally(() => {
          this.verifying = undefined;
          this.scheduleVerify();
        });
      this.verifying = read.then(() => undefined);
    }, this.policy.verifyMs);
  }

  private schedule(cause: WriteCause, delayMs: number): void {
    if (this.closed) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer.handle);
    const handle = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      const write: Promise<void> = this.write(cause).finally(() => {
        if (this.inFlight === write) this.inFlight = undefined;
      });
      this.inFlight = write;
    }, delayMs);
    this.timer = { handle, cause, atMs: this.options.clock.monotonic() + delayMs };
  }

  private heartbeatDelay(): number {
    return Math.round(this.policy.heartbeatMs * (1 + this.random() * this.policy.heartbeatJitter));
  }

  /**
   * At start, with what the Node shows read into `written`: when it already
   * says everything we would write (same types, statuses and reasons, nothing
   * to delete) and its oldest heartbeat of ours is not overdue, the delay to
   * the next heartbeat. Undefined when a write is needed now.
   *
   * The next heartbeat is the one the previous agent would have written: its
   * phase, with a fresh jitter. When that moment has passed (the heartbeat was
   * already in its jitter window), a random point of what remains of the
   * window: those nodes would otherwise all write in the restart's second, and
   * either way no heartbeat gets older than heartbeatMs × (1 + heartbeatJitter).
   */
  private currentNodeHeartbeatDelay(nowMs: number, offsetMs: number): number | undefined {
    const desired = this.desired();
    if (desired.length === 0 || this.written.size === 0 || this.differsFromWritten(desired)) return undefined;
    const clusterNow = nowMs + offsetMs;
    let oldest = Number.POSITIVE_INFINITY;
    for (const c of this.written.values()) {
      const beat = c.lastHeartbeatTime ? Date.parse(c.lastHeartbeatTime) : Number.NaN;
      // Missing, unparsable, or further in the future than rounding and the offset's error explain: write.
      if (!Number.isFinite(beat) || beat > clusterNow + HEARTBEAT_FUTURE_TOLERANCE_MS) return undefined;
      oldest = Math.min(oldest, beat);
    }
    const { heartbeatMs, heartbeatJitter, coalesceMs } = this.policy;
    const age = clusterNow - oldest;
    const overdueAt = heartbeatMs * (1 + heartbeatJitter);
    if (age >= overdueAt) return undefined;
    const phase = Math.round(oldest + this.heartbeatDelay() - clusterNow);
    if (phase >= coalesceMs) return phase;
    return coalesceMs + Math.round(this.random() * Math.max(0, overdueAt - age - coalesceMs));
  }

  /**
   * Full jitter: U(0, min(cap, base × 2^failures)), and never sooner than
   * Retry-After — but never later than the cap either: a proxy answering
   * `Retry-After: 86400` must not silence the node's conditions for a day.
   */
  backoffDelay(failures: number, retryAfterMs?: number): number {
    const ceiling = Math.min(this.policy.backoffCapMs, this.policy.backoffBaseMs * 2 ** Math.min(failures - 1, 30));
    const jittered = Math.round(this.random() * ceiling);
    return retryAfterMs !== undefined ? Math.min(Math.max(jittered, retryAfterMs), this.policy.backoffCapMs) : jittered;
  }

  /** Resolves when no write is in flight (tests settle on it between simulated timers). */
  async idle(): Promise<void> {
    while (this.inFlight || this.verifying) await (this.inFlight ?? this.verifying);
  }

  private async write(cause: WriteCause): Promise<void> {
    const { api, nodeName, clock, log } = this.options;
    const signal = this.abort.signal;
    try {
      const deletes: Array<{ type: string; $patch: "delete" }> = [];
      const firstSync = !this.synced;
      // A heartbeat under a collision looks again: the other manager's condition may be gone, and the type ours to write.
      if (firstSync || (cause === "heartbeat" && this.foreign.size > 0)) {
        const { node } = await api.getNode(nodeName, signal);
        if (!node) throw new ApiError(404, "NotFound", `node ${nodeName} is not registered (yet)`, "get", "nodes");
        this.see(node);
      }
      if (firstSync) {
        for (const type of this.written.keys()) if (!this.managed.has(type)) deletes.push({ type, $patch: "delete" });
      }
      const nowMs = clock.now();
      const offsetMs = this.options.clockOffsetMs?.() ?? 0;
      if (firstSync && deletes.length === 0) {
        const heartbeatInMs = this.currentNodeHeartbeatDelay(nowMs, offsetMs);
        if (heartbeatInMs !== undefined) {
          this.synced = true;
          this.startupWritesSkipped++;
          log.debug({ heartbeatInMs }, "the Node already shows our current conditions with a fresh heartbeat: no write at start");
          return this.afterSuccess(heartbeatInMs);
        }
      }
      const conditions = this.desired().map((state) => toNodeCondition(state, this.written.get(state.type), nowMs, offsetMs));
      if (conditions.length === 0 && deletes.length === 0 && this.synced) return this.afterSuccess();
      if (conditions.length > 0 || deletes.length > 0) {
        const node = await api.patchNodeStatus(nodeName, { status: { conditions: [...conditions, ...deletes] } }, { signal });
        this.see(node);
        this.seenRv = node.metadata?.resourceVersion;
        this.writes[cause]++;
        const unshown = notShown(node, conditions, deletes);
        if (unshown.length > 0) return this.afterDropped(unshown, deletes.length > 0);
        if (deletes.length > 0) log.info({ removed: deletes.map((d) => d.type) }, "removed node-doctor conditions no enabled check produces");
        log.debug({ cause, conditions: conditions.map((c) => `${c.type}=${c.status}/${c.reason}`) }, "wrote NodeConditions");
      }
      this.synced = true;
      this.afterSuccess();
    } catch (error) {
      if (this.closed) return;
      this.failures++;
      const apiError = error instanceof ApiError ? error : undefined;
      const delay = this.backoffDelay(this.failures, apiError?.retryAfterMs);
      const fields = { err: errorText(error), status: apiError?.status ?? 0, attempt: this.failures, retryInMs: delay };
      if (this.outageSinceMs === undefined) {
        this.outageSinceMs = clock.now();
        log.warn(
          fields,
          "cannot write NodeConditions: the API server is unreachable or refused; checks, /metrics and /findings go on, and the current state is written when it answers",
        );
      } else log.debug(fields, "NodeConditions write failed again");
      this.schedule("retry", delay);
    }
  }

  /**
   * The API server took the PATCH but its answer does not show it: a mutating
   * webhook or a proxy drops our conditions. Writing again at once would loop
   * (one PATCH a second, forever): back off exponentially up to a heartbeat,
   * and say so once.
   */
  private afterDropped(unshown: string[], hadDeletes: boolean): void {
    const { log, clock } = this.options;
    this.answered(false);
    const attempts = (this.dropped?.attempts ?? 0) + 1;
    const ceiling = Math.min(this.policy.heartbeatMs, this.policy.backoffBaseMs * 2 ** Math.min(attempts - 1, 30));
    const delay = Math.round(ceiling * (1 + this.random() * this.policy.heartbeatJitter));
    if (!this.dropped) {
      log.warn(
        { missing: unshown, retryInMs: delay },
        `the API server accepted the NodeConditions PATCH but the Node it answered does not show ${unshown.join(", ")}: a mutating admission webhook or a proxy drops them; retrying with backoff up to one heartbeat (${Math.round(this.policy.heartbeatMs / 1000)} s)`,
      );
    } else log.debug({ missing: unshown, attempt: attempts, retryInMs: delay }, "the Node still does not show our conditions");
    this.dropped = { sinceMs: this.dropped?.sinceMs ?? clock.now(), attempts };
    // Removals not shown are sent again: the first sync is redone.
    this.synced = !hadDeletes || !unshown.some((u) => u.endsWith("(removal)"));
    this.schedule("retry", delay);
  }

  /** The API server answered: an outage, if any, is over. */
  private answered(current: boolean): void {
    if (this.outageSinceMs !== undefined) {
      this.options.log.info(
        { downForMs: this.options.clock.now() - this.outageSinceMs, attempts: this.failures },
        current ? "the API server answers again; NodeConditions are current" : "the API server answers again",
      );
      this.outageSinceMs = undefined;
    }
    this.failures = 0;
  }

  private afterSuccess(heartbeatInMs?: number): void {
    this.answered(true);
    if (this.dropped) {
      this.options.log.info(
        { droppedForMs: this.options.clock.now() - this.dropped.sinceMs, attempts: this.dropped.attempts },
        "the Node shows node-doctor's conditions again",
      );
      this.dropped = undefined;
    }
    this.scheduleVerify();
    // State that moved on while the write was in flight goes out after the coalescing delay.
    if (this.needsWrite()) this.schedule("transition", this.policy.coalesceMs);
    else this.schedule("heartbeat", heartbeatInMs ?? this.heartbeatDelay());
  }

  /** Our conditions as last written (a copy), for /findings-like views and tests. */
  writtenConditions(): NodeCondition[] {
    return [...this.written.values()].map((c) => ({ ...c }));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer.handle);
    if (this.verifyTimer) this.options.clock.clearTimeout(this.verifyTimer);
    this.timer = undefined;
    this.verifyTimer = undefined;
    await this.verifying;
    this.abort.abort();
    await this.inFlight?.catch(() => undefined);
  }
}

/** What a PATCH sent that the Node it answered does not show: "T=S/R" for a condition, "T (removal)" for a delete. */
function notShown(node: Node, sent: readonly NodeCondition[], deletes: ReadonlyArray<{ type: string }>): string[] {
  const shown = new Map((node.status?.conditions ?? []).map((c) => [c.type, c]));
  const missing = sent
    .filter((c) => shown.get(c.type)?.status !== c.status || shown.get(c.type)?.reason !== c.reason)
    .map((c) => `${c.type}=${c.status}/${c.reason}`);
  return [...missing, ...deletes.filter((d) => shown.has(d.type)).map((d) => `${d.type} (removal)`)];
}

/** resourceVersions are opaque, but etcd's are integers: compare them when both are, else never call one older. */
function olderResourceVersion(rv: string, than: string): boolean {
  return /^\d+$/.test(rv) && /^\d+$/.test(than) && BigInt(rv) < BigInt(than);
}

/** Our conditions (as last shown) that `node` no longer shows as they were: removed, or status, reason or message changed, and by whom. */
function changesBy(before: ReadonlyMap<string, NodeCondition>, node: Node): Array<{ type: string; what: string; by: string }> {
  const now = new Map((node.status?.conditions ?? []).map((c) => [c.type, c]));
  const owners = conditionOwners(node);
  const changes: Array<{ type: string; what: string; by: string }> = [];
  for (const [type, was] of before) {
    const is = now.get(type);
    if (!is) {
      changes.push({ type, what: "removed", by: "" });
      continue;
    }
    const fields = (["status", "reason", "message"] as const).filter((f) => is[f] !== was[f]);
    if (fields.length === 0) continue;
    const what = fields.map((f) => (f === "message" ? "message" : `${f} ${was[f] ?? ""} → ${is[f] ?? ""}`)).join(", ");
    const by = (owners.get(type) ?? []).filter((o) => o.manager !== FIELD_MANAGER && o.fields.some((f) => (fields as readonly string[]).includes(f)));
    changes.push({ type, what, by: describeOwners(by) });
  }
  return changes;
}

/**
 * The Node's conditions that are node-doctor's to write, split by owner
 * (managedFields): ours, and those of our types (the built-in ones and the
 * configured `managed` ones) another manager owns, with who holds them. A
 * condition node-doctor added is ours whatever its type (a configured type
 * since removed from the configuration); kubelet's never are.
 */
export function splitByOwner(node: Node, managed: ReadonlySet<string> = new Set()): { ours: Map<string, NodeCondition>; foreign: Map<string, FieldOwner[]> } {
  const owners = conditionOwners(node);
  const ours = new Map<string, NodeCondition>();
  const foreign = new Map<string, FieldOwner[]>();
  for (const c of node.status?.conditions ?? []) {
    if ((KUBELET_CONDITION_TYPES as readonly string[]).includes(c.type)) continue;
    const holders = owners.get(c.type);
    const addedByUs = holders?.some((h) => h.manager === FIELD_MANAGER && h.added) ?? false;
    if (!addedByUs && !isBuiltinConditionType(c.type) && !managed.has(c.type)) continue;
    const ownership = ownershipOf(holders);
    if (ownership.owner === "ours") ours.set(c.type, c);
    else foreign.set(c.type, ownership.others);
  }
  return { ours, foreign };
}

/** The SMP body that deletes our condition types (all of CONDITION_TYPES by default), leaving every other condition. */
export function removalPatch(types: readonly string[] = CONDITION_TYPES): { status: { conditions: Array<{ type: string; $patch: "delete" }> } } {
  return { status: { conditions: types.map((type) => ({ type, $patch: "delete" as const })) } };
}

export interface Removal {
  /** Our condition types removed. */
  removed: string[];
  /** Conditions of our types left alone because another field manager owns them, with their managers. */
  left: Array<{ type: string; managers: string[] }>;
}

/**
 * Removes node-doctor's conditions from a Node (uninstall; the chart's
 * pre-delete hook): those it owns by managedFields, never kubelet's, nor a
 * condition of one of its types that another manager added
 * (node-problem-detector's KubeletUnhealthy). Nothing is written when there
 * is nothing of ours.
 */
export async function removeConditionsReport(api: NodeStatusApi, nodeName: string, signal?: AbortSignal): Promise<Removal> {
  const { node } = await api.getNode(nodeName, signal);
  if (!node) throw new ApiError(404, "NotFound", `node ${JSON.stringify(nodeName)} does not exist`, "get", "nodes");
  const { ours, foreign } = splitByOwner(node);
  const present = [...ours.keys()];
  const left = [...foreign].map(([type, others]) => ({ type, managers: [...new Set(others.map((o) => o.manager))] }));
  if (present.length === 0) return { removed: [], left };
  const patched = await api.patchNodeStatus(nodeName, removalPatch(present), signal ? { signal } : {});
  const remaining = present.filter((type) => patched.status?.conditions?.some((c) => c.type === type));
  if (remaining.length > 0) throw new Error(`node ${nodeName} still has ${remaining.join(", ")} after the removal patch`);
  return { removed: present, left };
}

/** The types removeConditionsReport removed. */
export async function removeOurConditions(api: NodeStatusApi, nodeName: string, signal?: AbortSignal): Promise<string[]> {
  return (await removeConditionsReport(api, nodeName, signal)).removed;
}
