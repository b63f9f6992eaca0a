/**
 * The real engine (scheduler, state, damping) with scripted checks, feeding
 * the real NodeConditions and Events sinks that write over HTTPS to a
 * FakeApiServer, all on a FakeClock: 30 simulated minutes run in well under
 * a second of real time. Used by the write-policy tests and bench/api-writes.
 */
import { configSchema, dampingSettings } from "../../src/main/agent.js";
import type { CompatMode } from "../../src/config/config.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { RootedHost } from "../../src/node/host.js";
import type { KubeClient } from "../../src/kube/client.js";
import { ConditionsSink, type ConditionsPolicy } from "../../src/sinks/conditions.js";
import { EventsSink, type EventsPolicy } from "../../src/sinks/events.js";
import type { Check, ConditionType, Finding, Log, RepairClass, Severity, Sink } from "../../src/types.js";
import { FakeClock, settle } from "./fake-clock.js";
import type { FakeApiServer } from "./fake-apiserver.js";
import { kubeClientFor } from "./kube.js";

/** The agent's default damping, as configured when the config file says nothing. */
export const DAMPING = dampingSettings(configSchema.parse({}, ""));

/** A log that keeps every line, for assertions on what the agent said. */
export class RecordingLog implements Log {
  readonly lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  debug(fields: object, message: string) {
    this.lines.push({ level: "debug", fields: fields as Record<string, unknown>, message });
  }
  info(fields: object, message: string) {
    this.lines.push({ level: "info", fields: fields as Record<string, unknown>, message });
  }
  warn(fields: object, message: string) {
    this.lines.push({ level: "warn", fields: fields as Record<string, unknown>, message });
  }
  error(fields: object, message: string) {
    this.lines.push({ level: "error", fields: fields as Record<string, unknown>, message });
  }
}

/** A check whose findings the test scripts run by run. */
export function scriptedCheck(name: string, condition: ConditionType, script: (run: number) => Finding[], intervalMs = 10_000): Check {
  let run = 0;
  return { name, conditions: [condition], intervalMs, timeoutMs: 2_000, run: async () => script(run++) };
}

export function finding(condition: ConditionType, severity: Severity, reason: string, message: string, remedy?: string): Finding {
  return { check: "scripted", condition, severity, reason, message, ...(remedy ? { remedy } : {}) };
}

export interface Harness {
  clock: FakeClock;
  conditions: ConditionsSink;
  events: EventsSink;
  state: NodeState;
  scheduler: Scheduler;
  client: KubeClient;
  log: RecordingLog;
  /** Advance simulated time, letting real HTTPS writes finish between timers. */
  advance(ms: number): Promise<void>;
  /** PATCHes of nodes/status the server accepted (status 200). */
  patches(): number;
  stop(): Promise<void>;
}

export async function conditionsHarness(
  api: FakeApiServer,
  checks: Check[],
  options: {
    nodeName?: string;
    conditions?: Partial<ConditionsPolicy>;
    events?: Partial<EventsPolicy>;
    random?: () => number;
    managedTypes?: ConditionType[];
    timeoutMs?: number;
    clockOffsetMs?: number;
    /** Stamps repair classes into findings as the agent does (checks/index.ts repairClassOf). */
    repairClass?: (check: string, reason: string) => RepairClass;
    /** compat.conditions */
    compat?: CompatMode;
    /** Where the checks' host is rooted (default /). */
    hostRoot?: string;
    /** More sinks on the same client and clock (the repair sink); each `idle()` is awaited between timers. */
    sinks?: (deps: { client: KubeClient; clock: FakeClock; log: RecordingLog }) => Array<Sink & { idle?: () => Promise<void> }>;
  } = {},
): Promise<Harness> {
  const nodeName = options.nodeName ?? "node-1";
  const clock = new FakeClock(Date.now());
  const log = new RecordingLog();
  const { client, close } = await kubeClientFor(api, { timeoutMs: options.timeoutMs ?? 2_000, now: () => clock.now() });
  const conditions = new ConditionsSink({
    api: client,
    nodeName,
    managedTypes: options.managedTypes ?? [...new Set(checks.flatMap((c) => c.conditions))],
    clock,
    log,
    ...(options.conditions ? { policy: options.conditions } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.clockOffsetMs !== undefined ? { clockOffsetMs: () => options.clockOffsetMs ?? 0 } : {}),
    ...(options.compat ? { compat: options.compat } : {}),
  });
  const events = new EventsSink({
    api: client,
    nodeName,
    clock,
    log,
    ...(options.events ? { policy: options.events } : {}),
    ...(options.clockOffsetMs !== undefined ? { clockOffsetMs: () => options.clockOffsetMs ?? 0 } : {}),
  });
  const extra = options.sinks?.({ client, clock, log }) ?? [];
  const state = new NodeState(checks, [conditions, events, ...extra], DAMPING, log);
  const scheduler = new Scheduler(checks, {
    host: new RootedHost(options.hostRoot ?? "/"),
    clock,
    state,
    log,
    logFor: () => log,
    jitterRatio: 0,
    ...(options.repairClass ? { repairClass: options.repairClass } : {}),
  });
  const between = async () => {
    await settle();
    await conditions.idle();
    await events.idle();
    for (const sink of extra) await sink.idle?.();
    await settle();
  };
  return {
    clock,
    conditions,
    events,
    state,
    scheduler,
    client,
    log,
    advance: (ms) => clock.advance(ms, between),
    patches: () => api.requestsTo({ verb: "patch", resource: "nodes/status", name: nodeName }).filter((r) => r.status === 200).length,
    async stop() {
      await scheduler.stop(0);
      await conditions.close();
      await events.close();
      for (const sink of extra) await sink.close?.();
      close();
    },
  };
}
