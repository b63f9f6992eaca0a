/**
 * The Events sink: one core/v1 Event on the Node per condition transition,
 * so `kubectl describe node` and `kubectl get events` tell the story.
 *
 * - involvedObject: the Node (kind Node, uid = node name, as kubelet does),
 *   in namespace `default`; source component `node-doctor`, host = node.
 * - type Warning when the new state is a problem (critical, warning or
 *   unknown), Normal on recovery; reason = the condition's reason; message =
 *   the finding's message and its remedy.
 * - The first state after start posts an Event only when it is a problem
 *   (a restart of a healthy agent says nothing); heartbeats never post.
 * - Aggregation: the same condition, reason and type again within
 *   `aggregateWindowMs` PATCHes the earlier Event (count + 1, lastTimestamp,
 *   latest message) instead of creating a new one.
 * - Rate limit: a token bucket per condition and reason (burst `burst`, one
 *   token per `refillMs`); an Event over the limit is dropped and counted.
 * - Timestamps are corrected by the clock check's offset when there is one.
 * - Best effort: a failed write is not retried (the conditions carry the
 *   state); after a failure, Events wait `pauseAfterFailureMs` (or a 429's
 *   Retry-After) so an unavailable API server is not pressed further.
 */
import type { Event as CoreEvent } from "kubernetes-types/core/v1.js";
import { ApiError } from "../kube/transport.js";
import { conditionRepairClass, type Clock, type ConditionType, type Log, type Sink, type StateView, type Transition } from "../types.js";
import { Counter, type Registry } from "../telemetry/prometheus.js";
import { apiTime, conditionMessage, MAX_CONDITION_MESSAGE } from "./conditions.js";
import { errorText } from "../text/format.js";

export interface EventsApi {
  createEvent(namespace: string, event: CoreEvent, signal?: AbortSignal): Promise<CoreEvent>;
  patchEvent(namespace: string, name: string, patch: unknown, signal?: AbortSignal): Promise<CoreEvent>;
}

export interface EventsPolicy {
  aggregateWindowMs: number;
  burst: number;
  refillMs: number;
  pauseAfterFailureMs: number;
}

export const DEFAULT_EVENTS_POLICY: EventsPolicy = {
  aggregateWindowMs: 600_000,
  burst: 5,
  refillMs: 300_000,
  pauseAfterFailureMs: 30_000,
};

export const EVENT_NAMESPACE = "default";
export const EVENT_COMPONENT = "node-doctor";
/** The repair class of the reason an Event reports (docs/remediation.md), for whatever acts on Events. */
export const REPAIR_ANNOTATION = "node-doctor/repair";

export type EventOutcome = "created" | "aggregated" | "suppressed" | "failed";

export interface EventsSinkOptions {
  api: EventsApi;
  nodeName: string;
  clock: Clock;
  log: Log;
  policy?: Partial<EventsPolicy>;
  /** Told about every Event decision (for metrics). */
  onOutcome?: (outcome: EventOutcome, type: "Normal" | "Warning") => void;
  /** The cluster's clock minus this host's (see ConditionsSinkOptions.clockOffsetMs). */
  clockOffsetMs?: () => number;
}

interface Posted {
  name: string;
  count: number;
  atMs: number;
}

export class EventsSink implements Sink {
  readonly name = "events";
  private readonly policy: EventsPolicy;
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private readonly posted = new Map<string, Posted>();
  private pausedUntilMs = 0;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly abort = new AbortController();
  private seq = 0;
  readonly counts: Record<EventOutcome, number> = { created: 0, aggregated: 0, suppressed: 0, failed: 0 };

  constructor(private readonly options: EventsSinkOptions) {
    this.policy = { ...DEFAULT_EVENTS_POLICY, ...options.policy };
  }

  onTransitions(transitions: readonly Transition[], _state: StateView): void {
    for (const t of transitions) {
      if (!t.from && t.to.severity === "ok") continue;
      this.pending++;
      // One at a time and in order: aggregation needs the previous Event's name.
      this.queue = this.queue.then(() => this.post(t)).finally(() => this.pending--);
    }
  }

  /** Resolves when every queued Event has been written or dropped. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.queue;
  }

  private take(key: string, nowMs: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.policy.burst, atMs: nowMs };
    bucket.tokens = Math.min(this.policy.burst, bucket.tokens + (nowMs - bucket.atMs) / this.policy.refillMs);
    bucket.atMs = nowMs;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private record(outcome: EventOutcome, type: "Normal" | "Warning"): void {
    this.counts[outcome]++;
    this.options.onOutcome?.(outcome, type);
  }

  private async post(t: Transition): Promise<void> {
    const { clock, nodeName, api, log } = this.options;
    const nowMs = clock.now();
    const type = t.to.severity === "ok" ? "Normal" : "Warning";
    const key = eventKey(t.condition, t.to.reason, type);
    if (nowMs < this.pausedUntilMs) {
      this.record("suppressed", type);
      log.debug({ condition: t.condition, reason: t.to.reason }, "Event dropped: the API server failed recently");
      return;
    }
    if (!this.take(key, nowMs)) {
      this.record("suppressed", type);
      log.debug({ condition: t.condition, reason: t.to.reason }, "Event dropped by the rate limit");
      return;
    }
    const stampMs = nowMs + (this.options.clockOffsetMs?.() ?? 0);
    const message = `${t.condition}=${t.to.status}: ${conditionMessage(t.to)}`.slice(0, MAX_CONDITION_MESSAGE);
    const previous = this.posted.get(key);
    try {
      if (previous && nowMs - previous.atMs <= this.policy.aggregateWindowMs) {
        const count = previous.count + 1;
        await api.patchEvent(EVENT_NAMESPACE, previous.name, { count, lastTimestamp: apiTime(stampMs), message }, this.abort.signal);
        this.posted.set(key, { name: previous.name, count, atMs: nowMs });
        this.record("aggregated", type);
        return;
      }
      const event = buildEvent({
        nodeName,
        condition: t.condition,
        reason: t.to.reason,
        message,
        type,
        nowMs: stampMs,
        seq: this.seq++,
        annotations: { [REPAIR_ANNOTATION]: conditionRepairClass(t.to) },
      });
      const created = await api.createEvent(EVENT_NAMESPACE, event, this.abort.signal);
      this.posted.set(key, { name: created.metadata.name ?? event.metadata.name ?? "", count: 1, atMs: nowMs });
      this.record("created", type);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      const retryAfter = error instanceof ApiError ? error.retryAfterMs : undefined;
      // The earlier Event may be gone (TTL): the next one starts afresh.
      if (error instanceof ApiError && error.status === 404) this.posted.delete(key);
      // Retry-After is honoured up to the pause's own order of magnitude (a day-long one would silence Events).
      this.pausedUntilMs = nowMs + Math.min(Math.max(this.policy.pauseAfterFailureMs, retryAfter ?? 0), MAX_PAUSE_MS);
      this.record("failed", type);
      log.warn({ condition: t.condition, reason: t.to.reason, err: errorText(error) }, "could not post an Event on the Node");
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.queue.catch(() => undefined);
  }
}

function eventKey(condition: ConditionType, reason: string, type: string): string {
  return `${condition}/${reason}/${type}`;
}

/** The longest an API server's Retry-After may pause Event posting. */
const MAX_PAUSE_MS = 300_000;

/** A core/v1 Event about the Node, named like client-go names them (<node>.<hex time>). */
export function buildEvent(input: {
  nodeName: string;
  /** The condition it is about, for the caller's bookkeeping (not written). */
  condition?: ConditionType;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  nowMs: number;
  seq: number;
  annotations?: Record<string, string>;
  /** What was done (the repair sink's Events): core/v1 Event.action. */
  action?: string;
}): CoreEvent & { metadata: { name: string } } {
  const at = apiTime(input.nowMs);
  const suffix = (BigInt(Math.floor(input.nowMs)) * 1_000_000n + BigInt(input.seq % 1_000_000)).toString(16);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${input.nodeName}.${suffix}`, namespace: EVENT_NAMESPACE, ...(input.annotations ? { annotations: input.annotations } : {}) },
    involvedObject: { kind: "Node", apiVersion: "v1", name: input.nodeName, uid: input.nodeName },
    reason: input.reason,
    message: input.message,
    type: input.type,
    ...(input.action ? { action: input.action } : {}),
    source: { component: EVENT_COMPONENT, host: input.nodeName },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: input.nodeName,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/** node_doctor_events_total{type,outcome}: what became of each Event the sink wanted to post. */
export function eventOutcomeCounter(registry: Registry): (outcome: EventOutcome, type: "Normal" | "Warning") => void {
  const counter = new Counter({
    name: "node_doctor_events_total",
    help: "Events node-doctor wanted to post on its Node, by type and outcome (created, aggregated into an earlier Event, suppressed by the rate limit or an API failure, failed).",
    labelNames: ["type", "outcome"],
    registers: [registry],
  });
  return (outcome, type) => counter.inc({ type, outcome });
}
