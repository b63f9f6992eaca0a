/**
 * Wiring: builds the agent's objects from a validated configuration. The one
 * place that knows every part; cli.ts parses arguments and calls in here.
 */
import { hostname } from "node:os";
import { agentConfigSchema, type AgentConfig } from "../config/config.js";
import { buildChecks, checkSettingsSchemas, repairClassOf } from "../checks/index.js";
import { systemClock } from "../time/clock.js";
import type { DampingSettings } from "../engine/damping.js";
import { Scheduler, trustedNowFrom } from "../engine/scheduler.js";
import { NodeState } from "../engine/state.js";
import { RootedHost } from "../node/host.js";
import { JournalReader, journalReaderOptions } from "../node/journal.js";
import { KubeletLocator } from "../node/kubelet/locator.js";
import type { KubeClient } from "../kube/client.js";
import { connectToCluster, type ClusterConnection } from "../kube/connect.js";
import { ConditionsSink } from "../sinks/conditions.js";
import { RepairSink } from "../sinks/repair.js";
import { RepairSlots } from "../kube/slots.js";
import { DEFAULT_SYSTEM_BUS_SOCKET, SystemdBus } from "../node/systemd.js";
import { eventOutcomeCounter, EventsSink } from "../sinks/events.js";
import type { Registry } from "../telemetry/prometheus.js";
import { createMetricsSink, type MetricsSink } from "../sinks/metrics/index.js";
import { buildServer } from "../sinks/http/server.js";
import type { Check, Clock, Finding, Host, Sink } from "../types.js";
import { VERSION } from "../version.js";
import { createJsonLog, createPrettyLog, LOG_LEVELS, type AgentLog, type LogFormat, type LogLevel } from "../telemetry/log.js";

export const configSchema = agentConfigSchema(checkSettingsSchemas);
export type Config = AgentConfig<typeof checkSettingsSchemas>;

export function dampingSettings(config: Pick<Config, "engine">): DampingSettings {
  const { damping } = config.engine;
  return {
    consecutiveRuns: damping.consecutiveRuns,
    holdMs: damping.holdSeconds * 1000,
    flapTransitions: damping.flapTransitions,
    flapWindowMs: damping.flapWindowSeconds * 1000,
  };
}

export async function createLogger(level: string, format: LogFormat = "json"): Promise<AgentLog> {
  const known = (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : "info";
  const options = { level: known, bindings: { component: "node-doctor" } };
  return format === "pretty" ? createPrettyLog({ ...options, colour: process.stderr.isTTY === true }) : createJsonLog(options);
}

export interface Assembly {
  config: Config;
  nodeName: string;
  log: AgentLog;
  checks: Check[];
  state: NodeState;
  scheduler: Scheduler;
  metrics: MetricsSink;
  cluster: ClusterConnection;
  /** The one kubelet reader the checks share (the CLI describes the node with it). */
  kubelet: KubeletLocator;
}

export async function assemble(
  config: Config,
  options: {
    log: AgentLog;
    clock?: Clock;
    /** `--only`'s selectors: kinds or `custom/<name>` (checkSelectorProblem). */ only?: readonly string[];
    extraSinks?: Sink[];
    /** Read the API but never write to it (`check`). */ readOnly?: boolean;
  },
): Promise<Assembly> {
  const clock = options.clock ?? systemClock;
  const { log } = options;
  const nodeName = config.nodeName ?? hostname();
  const host = new RootedHost(config.hostRoot);
  const journal = new JournalReader({ host, clock, log: log.child({ component: "journal" }), ...journalReaderOptions(config.journal) });
  const kubelet = new KubeletLocator(host, clock);
  const checks = buildChecks(config.checks, { kubelet, journal }, options.only);
  const metrics = createMetricsSink({ nodeName, version: VERSION, checkNames: checks.map((c) => c.name) });
  const cluster = await connectToCluster({
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    nodeName,
    log,
    registry: metrics.registry,
    clock,
    settings: config.kubernetes,
    sinks: options.readOnly
      ? undefined
      : (client, name) =>
          apiSinks(client, name, {
            config,
            checks,
            clock,
            log,
            host,
            kubelet,
            registry: metrics.registry,
            // Called only once checks run, when the scheduler exists.
            clockOffsetMs: () => trustedNowFrom(clock, scheduler.facts).offsetMs,
          }),
  });
  const sinks: Sink[] = [metrics, ...cluster.sinks, ...(options.extraSinks ?? [])];
  const state = new NodeState(checks, sinks, dampingSettings(config), log);
  const scheduler = new Scheduler(checks, {
    host,
    clock,
    state,
    log,
    logFor: (check) => log.child({ check }),
    ...(cluster.reader ? { cluster: cluster.reader } : {}),
    jitterRatio: config.engine.jitterRatio,
    repairClass: repairClassOf,
  });
  return { config, nodeName, log, checks, state, scheduler, metrics, cluster, kubelet };
}

/** The sinks that write to the API server: our NodeConditions, and Events on transitions. */
function apiSinks(
  client: KubeClient,
  nodeName: string,
  deps: { config: Config; checks: Check[]; clock: Clock; log: AgentLog; host: Host; kubelet: KubeletLocator; registry: Registry; clockOffsetMs: () => number },
): Sink[] {
  const { config, clock, log, clockOffsetMs } = deps;
  const managedTypes = [...new Set(deps.checks.flatMap((check) => check.conditions))];
  const sinks: Sink[] = [
    new ConditionsSink({
      api: client,
      nodeName,
      managedTypes,
      clock,
      log: log.child({ sink: "conditions" }),
      policy: { heartbeatMs: config.kubernetes.heartbeatSeconds * 1000, backoffCapMs: config.kubernetes.backoffCapSeconds * 1000 },
      clockOffsetMs,
      compat: config.compat.conditions,
    }),
  ];
  if (config.kubernetes.events) {
    sinks.push(
      new EventsSink({ api: client, nodeName, clock, log: log.child({ sink: "events" }), onOutcome: eventOutcomeCounter(deps.registry), clockOffsetMs }),
    );
  }
  if (config.repair.enabled) sinks.push(repairSink(client, nodeName, deps));
  return sinks;
}

/** The local repair (docs/remediation.md): its own bus connection, slots in the agent's namespace. */
function repairSink(
  client: KubeClient,
  nodeName: string,
  deps: { config: Config; clock: Clock; log: AgentLog; host: Host; kubelet: KubeletLocator; registry: Registry; clockOffsetMs: () => number },
): RepairSink {
  const { repair } = deps.config;
  const namespace = repair.namespace || process.env["POD_NAMESPACE"] || "kube-system";
  const budget = { maxPercent: repair.budget.maxPercent, ...(repair.budget.maxNodes !== undefined ? { maxNodes: repair.budget.maxNodes } : {}) };
  const log = deps.log.child({ sink: "repair" });
  log.info(
    { dryRun: repair.dryRun, actions: repair.actions, namespace, budget },
    repair.dryRun ? "local repair is on as a dry run: it says what it would do and does nothing" : "local repair is on",
  );
  return new RepairSink({
    nodeName,
    clock: deps.clock,
    log,
    host: deps.host,
    systemd: new SystemdBus(deps.host, DEFAULT_SYSTEM_BUS_SOCKET, 10_000),
    slots: new RepairSlots({ api: client, namespace, holder: nodeName, budget, leaseDurationSeconds: repair.leaseSeconds, clock: deps.clock }),
    events: client,
    distribution: () => deps.kubelet.distribution(),
    policy: {
      dryRun: repair.dryRun,
      actions: repair.actions,
      cooldownMs: repair.cooldownMinutes * 60_000,
      maxPerReasonPerDay: repair.maxPerReasonPerDay,
      settleMs: repair.settleSeconds * 1000,
      slotRetryMs: 120_000,
    },
    registry: deps.registry,
    clockOffsetMs: deps.clockOffsetMs,
  });
}

/** Runs every check once and returns the findings (the CLI's `check`). */
export async function diagnoseOnce(assembly: Assembly): Promise<Finding[]> {
  try {
    const runs = await assembly.scheduler.runOnce();
    return runs.flatMap((run) => run.findings);
  } finally {
    await assembly.scheduler.stop(0);
    await assembly.cluster.close();
  }
}

export interface RunningAgent {
  assembly: Assembly;
  address: string;
  /** Resolves when the first round of checks is done. */
  firstRound: Promise<void>;
  stop(): Promise<void>;
}

function splitListen(listen: string): { host: string; port: number } {
  const index = listen.lastIndexOf(":");
  return { host: listen.slice(0, index).replace(/^\[|\]$/g, "") || "0.0.0.0", port: Number(listen.slice(index + 1)) };
}

/** Starts serving and checking. The server is listening before the first check runs. */
export async function startAgent(assembly: Assembly): Promise<RunningAgent> {
  const { scheduler, state, metrics, log, nodeName } = assembly;
  const server = buildServer({ registry: metrics.registry, state, nodeName, version: VERSION, stuckChecks: () => scheduler.stuckChecks(), log });
  const address = await server.listen(splitListen(assembly.config.listen));
  log.info({ address, node: nodeName, checks: assembly.checks.map((c) => c.name), hostRoot: assembly.config.hostRoot }, "node-doctor started");
  const firstRound = scheduler.start();
  let stopping: Promise<void> | undefined;
  return {
    assembly,
    address,
    firstRound,
    stop() {
      stopping ??= (async () => {
        await scheduler.stop();
        for (const sink of [metrics, ...assembly.cluster.sinks]) await sink.close?.().catch(() => undefined);
        await assembly.cluster.close();
        await server.close();
      })();
      return stopping;
    },
  };
}
