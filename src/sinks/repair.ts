/**
 * Guarded local repair (docs/remediation.md, Local repair): a sink that, on a
 * condition's transition to True whose reason's repair class the node can
 * carry out itself, restarts kubelet or the runtime over D-Bus
 * (Manager.RestartUnit), enables and starts kubelet's unit, or points
 * kubelet-client-current.pem back at the newest valid rotated certificate.
 *
 * Every repair is guarded, in this order:
 * - once per transition: one (condition, since, reason) is acted on once;
 * - a try limit per reason per 24 h, and a cooldown per kind of repair;
 * - dry run (the default once enabled): the log line and an Event say what
 *   would be done, and nothing is;
 * - a fleet slot (src/kube/slots.ts): no API server, no slot, no repair; a
 *   node that finds every slot held looks again while the problem lasts;
 * - an Event before (a repair the cluster is not told of is not done) and one
 *   after, a log line, node_doctor_repairs_total{action,outcome}.
 *
 * It consumes engine state like every sink; it never runs a check.
 */
import { X509Certificate } from "node:crypto";
import { rename, rm, symlink } from "node:fs/promises";
import { posix } from "node:path";
import type { Distribution } from "../node/distro/index.js";
import type { UnitState } from "../node/systemd.js";
import type { HeldSlot, SlotAnswer } from "../kube/slots.js";
import { Counter, type Registry } from "../telemetry/prometheus.js";
import {
  conditionRepairClass,
  isLocalRepairClass,
  type Clock,
  type ConditionState,
  type Host,
  type LocalRepairClass,
  type Log,
  type Sink,
  type StateView,
  type TimerHandle,
  type Transition,
} from "../types.js";
import { buildEvent, REPAIR_ANNOTATION, type EventsApi, EVENT_NAMESPACE } from "./events.js";
import { conditionMessage } from "./conditions.js";
import { errorText } from "../text/format.js";
import { sleep } from "../time/clock.js";

/** What the repairs need from systemd (SystemdBus satisfies it). */
export interface RepairSystemd {
  restartUnit(unit: string, signal?: AbortSignal): Promise<string>;
  startUnit(unit: string, signal?: AbortSignal): Promise<string>;
  enableUnit(unit: string, signal?: AbortSignal): Promise<string[]>;
  unitState(unit: string, signal?: AbortSignal): Promise<UnitState>;
  close?(): void;
}

export interface RepairSlotsApi {
  acquire(signal?: AbortSignal): Promise<SlotAnswer>;
  /** Undefined: the slot is another node's now. */
  renew(slot: HeldSlot, signal?: AbortSignal): Promise<HeldSlot | undefined>;
  release(slot: HeldSlot, signal?: AbortSignal): Promise<void>;
}

export interface RepairPolicy {
  dryRun: boolean;
  actions: readonly LocalRepairClass[];
  cooldownMs: number;
  maxPerReasonPerDay: number;
  /** How long a started unit has to become active. */
  settleMs: number;
  /** With every slot held, look again this often while the problem lasts. */
  slotRetryMs: number;
}

export type RepairOutcome = "done" | "failed" | "dry-run" | "cooldown" | "limit" | "no-slot" | "no-api" | "no-target" | "nothing-to-do";

export interface RepairSinkOptions {
  nodeName: string;
  clock: Clock;
  log: Log;
  host: Host;
  systemd: RepairSystemd;
  slots: RepairSlotsApi;
  events: EventsApi;
  /** The distribution's units (kubelet's, the runtime's, the one that starts kubelet at boot). */
  distribution: () => Promise<Pick<Distribution, "kubeletUnit" | "runtimeUnit" | "starters">>;
  policy: RepairPolicy;
  registry?: Registry;
  clockOffsetMs?: () => number;
}

const DAY_MS = 86_400_000;
const POLL_MS = 500;

interface Job {
  condition: string;
  sinceMs: number;
  reason: string;
  action: LocalRepairClass;
  state: ConditionState;
}

/** One repair made concrete: what it does, in words, and doing it. */
interface Plan {
  /** "restart kubelet.service over D-Bus (RestartUnit)". */
  what: string;
  run(signal: AbortSignal): Promise<{ outcome: "done" | "failed" | "nothing-to-do"; detail: string }>;
}

export class RepairSink implements Sink {
  readonly name = "repair";
  private readonly acted = new Set<string>();
  private readonly tries = new Map<string, number[]>();
  private readonly lastByAction = new Map<LocalRepairClass, number>();
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly retries = new Set<TimerHandle>();
  private readonly abort = new AbortController();
  /** Event names are <node>.<time><seq>, as the Events sink's: its seq counts from 0, this one from the middle, so two Events of the same millisecond never share a name. */
  private seq = 500_000;
  private readonly counter?: Counter<"action" | "outcome">;
  private state?: StateView;
  readonly outcomes: Array<{ action: LocalRepairClass; outcome: RepairOutcome; reason: string }> = [];

  constructor(private readonly options: RepairSinkOptions) {
    if (options.registry) {
      this.counter = new Counter({
        name: "node_doctor_repairs_total",
        help: "Local repairs node-doctor considered, by repair class and outcome (done, failed, dry-run, and why one was not made: cooldown, limit, no-slot, no-api, no-target, nothing-to-do).",
        labelNames: ["action", "outcome"],
        registers: [options.registry],
      });
    }
  }

  onTransitions(transitions: readonly Transition[], state: StateView): void {
    this.state = state;
    for (const t of transitions) {
      if (t.to.status !== "True") continue;
      const action = conditionRepairClass(t.to);
      if (!isLocalRepairClass(action) || !this.options.policy.actions.includes(action)) continue;
      const job: Job = { condition: t.condition, sinceMs: t.to.sinceMs, reason: t.to.reason, action, state: t.to };
      const key = `${job.condition}@${job.sinceMs}/${job.reason}`;
      if (this.acted.has(key)) continue;
      this.acted.add(key);
      this.enqueue(job);
    }
  }

  private enqueue(job: Job): void {
    this.pending++;
    this.queue = this.queue.then(() => this.consider(job)).finally(() => this.pending--);
  }

  /** Resolves when no repair is queued or running. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.queue;
  }

  /** The condition still shows the job's problem (a retry of a slot-less job is for the same transition only). */
  private stillCurrent(job: Job): boolean {
    const now = this.state?.condition(job.state.type);
    return now !== undefined && now.status === "True" && now.sinceMs === job.sinceMs && now.reason === job.reason;
  }

  private count(job: Job, outcome: RepairOutcome, fields: Record<string, unknown>, message: string, level: "info" | "warn" = "info"): void {
    this.outcomes.push({ action: job.action, outcome, reason: job.reason });
    this.counter?.inc({ action: job.action, outcome });
    this.options.log[level]({ action: job.action, outcome, condition: job.condition, reason: job.reason, ...fields }, message);
  }

  private async consider(job: Job, retry = false): Promise<void> {
    const { clock, policy } = this.options;
    const now = clock.monotonic();
    if (!retry) {
      const tries = (this.tries.get(job.reason) ?? []).filter((at) => now - at < DAY_MS);
      this.tries.set(job.reason, tries);
      if (tries.length >= policy.maxPerReasonPerDay) {
        return this.count(
          job,
          "limit",
          { tries: tries.length },
          `not repairing ${job.reason}: ${tries.length} tries in the last 24 hours (repair.maxPerReasonPerDay); a person must look`,
          "warn",
        );
      }
      const last = this.lastByAction.get(job.action);
      if (last !== undefined && now - last < policy.cooldownMs) {
        return this.count(
          job,
          "cooldown",
          { cooldownLeftMs: policy.cooldownMs - (now - last) },
          `not repairing ${job.reason}: the last ${job.action} was ${Math.round((now - last) / 1000)} s ago, within the cooldown (repair.cooldownMinutes)`,
        );
      }
    }
    let plan: Plan | undefined;
    try {
      plan = await this.plan(job);
    } catch (error) {
      return this.count(job, "no-target", { err: errorText(error) }, `cannot repair ${job.reason}: ${errorText(error)}`, "warn");
    }
    if (!plan) return this.count(job, "no-target", {}, `cannot repair ${job.reason}: the finding names nothing to repair it with`, "warn");
    if (!retry) {
      this.tries.get(job.reason)?.push(now);
      this.lastByAction.set(job.action, now);
    }
    const cause = `${job.condition}=True (${job.reason}): ${conditionMessage(job.state)}`;
    if (policy.dryRun) {
      const message = `node-doctor would ${plan.what}, for ${cause} — dry run (repair.dryRun: true), nothing was done`;
      await this.post("RepairDryRun", "Normal", message, job.action).catch((error: unknown) =>
        this.options.log.warn({ err: errorText(error) }, "could not post the dry run's Event"),
      );
      return this.count(job, "dry-run", { plan: plan.what }, `dry run: would ${plan.what}`);
    }
    let answer: SlotAnswer;
    try {
      answer = await this.options.slots.acquire(this.abort.signal);
    } catch (error) {
      return this.count(
        job,
        "no-api",
        { err: errorText(error) },
        `not repairing ${job.reason}: no repair slot without the API server (${errorText(error)})`,
        "warn",
      );
    }
    if (!answer.slot) {
      this.count(
        job,
        "no-slot",
        { why: answer.why },
        `not repairing ${job.reason} yet: ${answer.why}; looking again in ${Math.round(policy.slotRetryMs / 1000)} s`,
      );
      const handle = clock.setTimeout(() => {
        this.retries.delete(handle);
        if (!this.stillCurrent(job)) return;
        this.pending++;
        this.queue = this.queue.then(() => this.consider(job, true)).finally(() => this.pending--);
      }, policy.slotRetryMs);
      this.retries.add(handle);
      return;
    }
    const held = this.hold(answer.slot);
    const slot = answer.slot;
    try {
      try {
        await this.post("RepairStarted", "Warning", `node-doctor is going to ${plan.what} (repair slot ${slot.name}), for ${cause}`, job.action);
      } catch (error) {
        return this.count(
          job,
          "no-api",
          { err: errorText(error) },
          `not repairing ${job.reason}: the Event announcing it could not be posted (${errorText(error)})`,
          "warn",
        );
      }
      let result: { outcome: "done" | "failed" | "nothing-to-do"; detail: string };
      try {
        result = await plan.run(this.abort.signal);
      } catch (error) {
        result = { outcome: "failed", detail: errorText(error) };
      }
      const ok = result.outcome !== "failed";
      await this.post(
        ok ? "RepairSucceeded" : "RepairFailed",
        ok ? "Normal" : "Warning",
        `node-doctor ${ok ? "did" : "tried to"} ${plan.what}: ${result.detail}`,
        job.action,
      ).catch((error: unknown) => this.options.log.warn({ err: errorText(error) }, "could not post the repair's outcome Event"));
      this.count(
        job,
        result.outcome,
        { plan: plan.what, slot: slot.name, detail: result.detail },
        `${ok ? "repaired" : "repair failed"}: ${plan.what}: ${result.detail}`,
        ok ? "info" : "warn",
      );
    } finally {
      await held.stop();
      await this.options.slots
        .release(held.current())
        .catch((error: unknown) =>
          this.options.log.warn({ slot: slot.name, err: errorText(error) }, "could not release the repair slot; it frees itself when its Lease expires"),
        );
    }
  }

  /**
   * Renews a held slot every third of its Lease while the repair lasts: a
   * restart waits up to settleSeconds for the unit, which may be longer than
   * leaseSeconds, and a slot that expired mid-repair would let one more node
   * repair than the budget allows. stop() waits for a renewal in flight, so
   * the release deletes the Lease at its latest resourceVersion.
   */
  private hold(slot: HeldSlot): { current(): HeldSlot; stop(): Promise<void> } {
    const { clock, log, slots } = this.options;
    const everyMs = Math.max(1000, ((slot.lease.spec?.leaseDurationSeconds ?? 30) * 1000) / 3);
    let current = slot;
    let stopped = false;
    let renewing: Promise<void> = Promise.resolve();
    let handle: TimerHandle | undefined;
    const schedule = () => {
      handle = clock.setTimeout(() => {
        renewing = slots.renew(current, this.abort.signal).then(
          (renewed) => {
            if (renewed) {
              current = renewed;
              if (!stopped) schedule();
            } else log.warn({ slot: current.name }, "the repair slot expired and another node holds it now; this repair goes on to its end");
          },
          (error: unknown) => {
            if (stopped || this.abort.signal.aborted) return;
            log.warn({ slot: current.name, err: errorText(error) }, "could not renew the repair slot; trying again");
            schedule();
          },
        );
      }, everyMs);
    };
    schedule();
    return {
      current: () => current,
      stop: async () => {
        stopped = true;
        if (handle) clock.clearTimeout(handle);
        await renewing;
      },
    };
  }

  private async post(reason: string, type: "Normal" | "Warning", message: string, action: LocalRepairClass): Promise<void> {
    const { nodeName, clock } = this.options;
    const event = buildEvent({
      nodeName,
      reason,
      message: message.slice(0, 1024),
      type,
      nowMs: clock.now() + (this.options.clockOffsetMs?.() ?? 0),
      seq: this.seq++,
      annotations: { [REPAIR_ANNOTATION]: action },
      action,
    });
    await this.options.events.createEvent(EVENT_NAMESPACE, event, this.abort.signal);
  }

  private async plan(job: Job): Promise<Plan | undefined> {
    const units = await this.options.distribution();
    switch (job.action) {
      case "restart-kubelet":
        return this.restart(units.kubeletUnit);
      case "restart-runtime":
        return this.restart(units.runtimeUnit);
      case "enable-unit": {
        const unit = units.starters[0] ?? units.kubeletUnit;
        return {
          what: `enable and start ${unit} over D-Bus (EnableUnitFiles, Reload, StartUnit)`,
          run: async (signal) => {
            const changes = await this.options.systemd.enableUnit(unit, signal);
            await this.options.systemd.startUnit(unit, signal);
            const settled = await this.settle(unit, signal);
            return { outcome: settled.ok ? "done" : "failed", detail: `${changes.join("; ") || "already enabled"}; ${settled.detail}` };
          },
        };
      }
      case "repoint-client-cert":
        return this.repoint(job, units.kubeletUnit);
    }
  }

  private restart(unit: string): Plan {
    return {
      what: `restart ${unit} over D-Bus (RestartUnit)`,
      run: async (signal) => {
        const jobPath = await this.options.systemd.restartUnit(unit, signal);
        const settled = await this.settle(unit, signal);
        return { outcome: settled.ok ? "done" : "failed", detail: `job ${jobPath}; ${settled.detail}` };
      },
    };
  }

  /** Waits for the unit to be active (or failed), at most settleMs, on the injected clock. */
  private async settle(unit: string, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    const { clock, policy, systemd } = this.options;
    const deadline = clock.monotonic() + policy.settleMs;
    for (;;) {
      const state = await systemd.unitState(unit, signal);
      if (state.activeState === "active") return { ok: true, detail: `${unit} is active` };
      if (state.activeState === "failed") return { ok: false, detail: `${unit} failed to start` };
      if (clock.monotonic() >= deadline) return { ok: false, detail: `${unit} is ${state.activeState} ${Math.round(policy.settleMs / 1000)} s later` };
      // The signal too: the agent shutting down mid-wait must not wait out settleSeconds.
      await sleep(clock, POLL_MS, signal);
    }
  }

  /**
   * kubelet-client-current.pem → the rotated certificate the certificates
   * check named (its finding's evidence), re-checked now (a readable
   * certificate, valid at this moment, beside the link), swapped in with a
   * rename over the link, so kubelet never sees it missing; then kubelet
   * restarts. A link already pointing there is left alone.
   */
  private async repoint(job: Job, kubeletUnit: string): Promise<Plan | undefined> {
    const finding = job.state.findings.find((f) => f.reason === job.reason && f.severity === "critical");
    const current = finding?.evidence?.["path"];
    const replacement = finding?.evidence?.["replacement"];
    if (typeof current !== "string" || typeof replacement !== "string") return undefined;
    const { host } = this.options;
    const dir = posix.dirname(current);
    if (
      posix.basename(current) !== "kubelet-client-current.pem" ||
      posix.dirname(replacement) !== dir ||
      !/^kubelet-client-[\w.-]+\.pem$/.test(posix.basename(replacement))
    ) {
      throw new Error(`${replacement} is not a rotated client certificate beside ${current}`);
    }
    return {
      what: `point ${current} at ${replacement} (rename over the link) and restart ${kubeletUnit} over D-Bus (RestartUnit)`,
      run: async (signal) => {
        const stat = await host.lstat(replacement);
        if (stat.kind !== "file") return { outcome: "failed", detail: `${replacement} is not a regular file` };
        const cert = new X509Certificate(await host.readBytes(replacement, { signal }));
        const now = this.options.clock.now() + (this.options.clockOffsetMs?.() ?? 0);
        if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) <= now) {
          return { outcome: "failed", detail: `${replacement} is not valid now (${cert.validFrom} to ${cert.validTo})` };
        }
        const link = await host.lstat(current).catch(() => undefined);
        const target = link?.kind === "symlink" ? await host.readLink(current) : undefined;
        if (target !== undefined && (target === replacement || posix.resolve(dir, target) === replacement)) {
          return { outcome: "nothing-to-do", detail: `${current} already points at ${replacement}` };
        }
        if (link && link.kind !== "symlink") return { outcome: "failed", detail: `${current} is not a symlink: left as it is` };
        // kubelet writes an absolute target; keep the form the link had.
        const newTarget = target !== undefined && !target.startsWith("/") ? posix.basename(replacement) : replacement;
        const localLink = host.local(current);
        const temporary = `${localLink}.node-doctor-${process.pid}`;
        await rm(temporary, { force: true });
        await symlink(newTarget, temporary);
        try {
          await rename(temporary, localLink);
        } catch (error) {
          await rm(temporary, { force: true });
          throw error;
        }
        const jobPath = await this.options.systemd.restartUnit(kubeletUnit, signal);
        const settled = await this.settle(kubeletUnit, signal);
        return {
          outcome: settled.ok ? "done" : "failed",
          detail: `${current} → ${newTarget} (was ${target ?? "missing"}); restart job ${jobPath}; ${settled.detail}`,
        };
      },
    };
  }

  async close(): Promise<void> {
    for (const handle of this.retries) this.options.clock.clearTimeout(handle);
    this.retries.clear();
    this.abort.abort();
    await this.queue.catch(() => undefined);
    this.options.systemd.close?.();
  }
}
