/**
 * Fleet simulation: N agents' API writers against ONE fake API server, on
 * one simulated clock. Each simulated node has its own NodeState (the real
 * damping), ConditionsSink and EventsSink, with the agent's default policies
 * (heartbeat 10 min stretched by U(0, 10%), coalescing, Event aggregation and
 * rate limits), writing over real HTTPS through one shared KubeClient (a
 * keep-alive pool of 4 sockets: 5,000 separate TLS clients in one process on
 * two cores would measure the machine, not the agents).
 *
 * A share of the nodes flap (half of them a kubelet condition every run, held
 * back by damping; half a clock condition every 5 minutes): their checks run
 * on the real Scheduler at their default intervals with jitter. The other
 * nodes are healthy and stay so: their checks run one first round and then
 * their findings never change, and since the sinks write only on a
 * transition or a heartbeat, further identical runs cannot cause a write, so
 * they are not simulated (they would cost millions of timer turns per hour).
 *
 * Writes are counted when a sink issues them, by simulated second (a counting
 * wrapper around the client); the fake server's own request log is the check
 * that every counted write reached it. Time moves a simulated second at a
 * time and waits for every in-flight request before moving on.
 *
 * Scenarios:
 *  - steady fleet: agents that have been running for days, so their
 *    heartbeat phases are spread over a heartbeat period (modelled by
 *    starting each node at a uniformly random moment of the first period);
 *    writes/s over the following simulated hour.
 *  - rollout: every agent restarts in the same second (a DaemonSet rollout
 *    with no surge limit) on a fleet that was already running: each Node
 *    carries our conditions as the previous agent left them (healthy, with
 *    a lastHeartbeatTime at a uniformly random point of its heartbeat
 *    period); peak second, worst minute and the profile for some hours;
 *  - first install: the same simultaneous start on Nodes that carry none of
 *    our conditions yet (every agent must write at start).
 *
 *   npm run bench -- fleet-sim [--nodes N] [--flapping-percent 10] [--heartbeat-seconds 600] [--rollout-hours 6] [--install-hours 2]
 *   (default: 1,000 then 5,000 nodes; --install-hours 0 leaves the first install out)
 */
import type { Event as CoreEvent, Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { configSchema } from "../src/main/agent.js";
import { Scheduler } from "../src/engine/scheduler.js";
import { NodeState } from "../src/engine/state.js";
import { RootedHost } from "../src/node/host.js";
import type { KubeClient } from "../src/kube/client.js";
import { apiTime, ConditionsSink, type NodeStatusApi } from "../src/sinks/conditions.js";
import { EventsSink, type EventsApi } from "../src/sinks/events.js";
import { CONDITION_TYPES, HEALTHY_CONDITION, type Check, type ConditionType, type Finding } from "../src/types.js";
import { silentLog } from "../test/support/check-context.js";
import { DAMPING, finding, scriptedCheck } from "../test/support/conditions-harness.js";
import { FakeClock, settle } from "../test/support/fake-clock.js";
import { FakeApiServer } from "../test/support/fake-apiserver.js";
import { kubeClientFor } from "../test/support/kube.js";
import { option } from "./support.js";

const SECOND = 1000;
const HOUR = 3_600_000;
const NPD_WRITES_PER_NODE_PER_S = 1 / 300;

/** Between simulated timers, only promise chains run (no I/O is pending): a few microtask turns, not event-loop turns. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 30; i++) await null;
}

// ------------------------------------------------------------ counting what the sinks issue

type WriteKind = "nodes/status PATCH" | "Event create" | "Event patch";

/** Wraps the shared client: counts each request by simulated second and kind, and tracks what is in flight. */
class CountingApi implements NodeStatusApi, EventsApi {
  readonly writes = new Map<WriteKind, number[]>([
    ["nodes/status PATCH", []],
    ["Event create", []],
    ["Event patch", []],
  ]);
  reads = 0;
  failures = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  constructor(
    private readonly client: KubeClient,
    private readonly clock: FakeClock,
  ) {}
  private track<T>(kind: WriteKind | "read", work: Promise<T>): Promise<T> {
    if (kind === "read") this.reads++;
    else {
      const series = this.writes.get(kind)!;
      const second = Math.floor(this.clock.monotonic() / SECOND);
      series[second] = (series[second] ?? 0) + 1;
    }
    const p = work.catch((error: unknown) => {
      this.failures++;
      throw error;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
  getNode(name: string, signal?: AbortSignal): Promise<{ node: Node | null }> {
    return this.track("read", this.client.getNode(name, signal));
  }
  patchNodeStatus(name: string, patch: unknown, options?: { signal?: AbortSignal; contentType?: string }): Promise<Node> {
    return this.track("nodes/status PATCH", this.client.patchNodeStatus(name, patch, options));
  }
  createEvent(namespace: string, event: CoreEvent, signal?: AbortSignal): Promise<CoreEvent> {
    return this.track("Event create", this.client.createEvent(namespace, event, signal));
  }
  patchEvent(namespace: string, name: string, patch: unknown, signal?: AbortSignal): Promise<CoreEvent> {
    return this.track("Event patch", this.client.patchEvent(namespace, name, patch, signal));
  }
  /** All writes per simulated second, 0..seconds-1. */
  perSecond(seconds: number): number[] {
    const total = new Array<number>(seconds).fill(0);
    for (const series of this.writes.values()) series.forEach((n, s) => s < seconds && (total[s]! += n));
    return total;
  }
  count(kind: WriteKind, fromS = 0, toS = Number.POSITIVE_INFINITY): number {
    return this.writes.get(kind)!.reduce((sum, n, s) => (s >= fromS && s < toS ? sum + (n ?? 0) : sum), 0);
  }
}

// ------------------------------------------------------------ one simulated agent

type Behaviour = "healthy" | "flapping every run" | "flapping every 5 min";

/** The agent's checks as scripts: one per condition type, kubelet every 10 s, the others every 30 s. */
function checksFor(behaviour: Behaviour): Check[] {
  const sick = (condition: ConditionType, run: number): Finding[] => {
    if (behaviour === "flapping every run" && condition === "KubeletUnhealthy" && run % 2 === 1)
      return [finding(condition, "critical", "KubeletHealthzFailing", "healthz refused")];
    if (behaviour === "flapping every 5 min" && condition === "ClockSkewed" && Math.floor((run * 30_000) / 300_000) % 2 === 1)
      return [finding(condition, "critical", "ClockOffsetLarge", "offset 45 s")];
    return [];
  };
  return CONDITION_TYPES.map((condition) =>
    scriptedCheck(condition.toLowerCase(), condition, (run) => sick(condition, run), condition === "KubeletUnhealthy" ? 10_000 : 30_000),
  );
}

interface SimAgent {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** 1 when this agent found its Node current at start and wrote nothing. */
  skippedStartWrite(): number;
}

function simAgent(nodeName: string, behaviour: Behaviour, api: CountingApi, clock: FakeClock, heartbeatMs: number, jitterRatio: number): SimAgent {
  const checks = checksFor(behaviour);
  const conditions = new ConditionsSink({ api, nodeName, managedTypes: CONDITION_TYPES, clock, log: silentLog, policy: { heartbeatMs } });
  const events = new EventsSink({ api, nodeName, clock, log: silentLog });
  const state = new NodeState(checks, [conditions, events], DAMPING, silentLog);
  const scheduler = new Scheduler(checks, { host: new RootedHost("/"), clock, state, log: silentLog, logFor: () => silentLog, jitterRatio });
  return {
    async start() {
      if (behaviour === "healthy") await scheduler.runOnce();
      else void scheduler.start();
    },
    async stop() {
      await scheduler.stop(0);
      await conditions.close();
      await events.close();
    },
    skippedStartWrite: () => conditions.startupWritesSkipped,
  };
}

/**
 * Our conditions as a previous agent version left them on a healthy node that
 * had been running for a while: its last heartbeat at a uniformly random point
 * of its (jittered) heartbeat period before `nowMs`.
 */
function previousAgentConditions(nowMs: number, heartbeatMs: number): NodeCondition[] {
  const period = heartbeatMs * (1 + Math.random() * 0.1);
  const beat = apiTime(nowMs - Math.random() * period);
  return CONDITION_TYPES.map((type) => ({
    type,
    status: "False",
    reason: HEALTHY_CONDITION[type].reason,
    message: HEALTHY_CONDITION[type].message,
    lastHeartbeatTime: beat,
    lastTransitionTime: "2026-11-01T00:00:00Z",
  }));
}

// ------------------------------------------------------------ scenarios

interface Run {
  perSecond: number[];
  api: CountingApi;
  serverWrites: number;
  serverRequests: number;
  realMs: number;
  /** Agents that found their Node current at start and did not write. */
  skippedStartWrites: number;
}

async function simulate(
  nodes: number,
  options: { flappingShare: number; heartbeatMs: number; startSpreadMs: number; durationMs: number; alreadyRunning?: boolean },
): Promise<Run> {
  const started = performance.now();
  const server = await FakeApiServer.start();
  const clock = new FakeClock(Date.now());
  const { client, close } = await kubeClientFor(server, { timeoutMs: 30_000, now: () => clock.now() });
  const api = new CountingApi(client, clock);
  const jitterRatio = configSchema.parse({}, "").engine.jitterRatio;
  const agents: SimAgent[] = [];
  const flappers = Math.round(nodes * options.flappingShare);
  for (let i = 0; i < nodes; i++) {
    const name = `node-${String(i).padStart(5, "0")}`;
    const kubelet = server.seedNode(name).status?.conditions ?? [];
    if (options.alreadyRunning) server.seedNode(name, { conditions: [...kubelet, ...previousAgentConditions(clock.now(), options.heartbeatMs)] });
    const behaviour: Behaviour = i < flappers / 2 ? "flapping every run" : i < flappers ? "flapping every 5 min" : "healthy";
    const agent = simAgent(name, behaviour, api, clock, options.heartbeatMs, jitterRatio);
    agents.push(agent);
    const at = options.startSpreadMs > 0 ? Math.floor(Math.random() * options.startSpreadMs) : 0;
    clock.setTimeout(() => void agent.start(), at);
  }
  const seconds = Math.ceil(options.durationMs / SECOND);
  for (let s = 1; s <= seconds; s++) {
    await clock.advance(s * SECOND - clock.monotonic(), microtasks);
    await settle();
    await api.drain();
    await settle();
  }
  const skippedStartWrites = agents.reduce((n, agent) => n + agent.skippedStartWrite(), 0);
  for (const agent of agents) await agent.stop();
  const serverWrites = server.requests.filter((r) => r.verb !== "get" && r.verb !== "list").length;
  const serverRequests = server.requests.length;
  close();
  await server.close();
  return { perSecond: api.perSecond(seconds), api, serverWrites, serverRequests, realMs: performance.now() - started, skippedStartWrites };
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Largest average over any `width`-second window. */
function peakWindow(perSecond: number[], width: number, from = 0, to = perSecond.length): number {
  let best = 0;
  let sum = 0;
  for (let s = from; s < to; s++) {
    sum += perSecond[s] ?? 0;
    if (s - from >= width) sum -= perSecond[s - width] ?? 0;
    if (s - from >= width - 1) best = Math.max(best, sum / width);
  }
  return best;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function run(args: string[]): Promise<void> {
  const fleet = option(args, "nodes", "1000,5000").split(",").map(Number);
  const flappingShare = Number(option(args, "flapping-percent", "10")) / 100;
  const heartbeatMs = Number(option(args, "heartbeat-seconds", "600")) * SECOND;
  const rolloutHours = Number(option(args, "rollout-hours", "6"));
  const installHours = Number(option(args, "install-hours", "2"));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `heartbeat ${heartbeatMs / SECOND} s (+U(0,10%)), ${flappingShare * 100}% of nodes flapping (half every run, half every 5 min); node-problem-detector: 1 PATCH/node/5 min`,
  );
  for (const nodes of fleet) {
    if (!(nodes > 0)) throw new Error(`fleet-sim: --nodes must be positive numbers, got ${option(args, "nodes", "")}`);
    const npd = nodes * NPD_WRITES_PER_NODE_PER_S;

    // Steady fleet: phases spread over one heartbeat period; measured over the following hour.
    const steady = await simulate(nodes, { flappingShare, heartbeatMs, startSpreadMs: heartbeatMs, durationMs: heartbeatMs * 1.2 + HOUR });
    const from = Math.ceil((heartbeatMs * 1.2) / SECOND);
    const hour = steady.perSecond.slice(from);
    const patches = steady.api.count("nodes/status PATCH", from);
    const events = steady.api.count("Event create", from) + steady.api.count("Event patch", from);
    out(`\n${nodes.toLocaleString("en-US")} nodes, steady fleet, the simulated hour after start-up (${fmt(steady.realMs / 1000, 0)} s real):`);
    out(`| figure | node-doctor | node-problem-detector | ratio |\n|---|---|---|---|`);
    out(`| writes/s at the API server, hour mean | ${fmt(mean(hour), 2)} | ${fmt(npd, 2)} | ${fmt(mean(hour) / npd, 2)} |`);
    out(`| of which nodes/status PATCH/s | ${fmt(patches / 3600, 2)} | ${fmt(npd, 2)} | |`);
    out(`| of which Event writes/s | ${fmt(events / 3600, 2)} | (NPD posts Events too; not in its published rate) | |`);
    out(`| peak writes in one second / peak 60 s mean | ${Math.max(...hour)} / ${fmt(peakWindow(hour, 60), 2)} | | |`);
    out(`| writes per node per hour | ${fmt((patches + events) / nodes, 2)} | 12 | |`);
    out(
      `requests the fake server logged in the whole run: ${steady.serverRequests} (writes ${steady.serverWrites}; the sinks issued ${steady.api.count("nodes/status PATCH") + steady.api.count("Event create") + steady.api.count("Event patch")} writes and ${steady.api.reads} reads, ${steady.api.failures} failed)`,
    );

    const hourMean = mean(hour);
    // Rollout: every agent of a running fleet restarts in the same second.
    const rollout = await simulate(nodes, { flappingShare, heartbeatMs, startSpreadMs: 0, durationMs: rolloutHours * HOUR, alreadyRunning: true });
    reportRestart(
      out,
      `${nodes.toLocaleString("en-US")} nodes, rollout: a running fleet (Nodes current, heartbeat phases spread) restarts in the same second`,
      rollout,
      nodes,
      rolloutHours,
      heartbeatMs,
      hourMean,
    );
    // First install: no condition of ours on any Node yet, every agent starts in the same second.
    if (installHours > 0) {
      const install = await simulate(nodes, { flappingShare, heartbeatMs, startSpreadMs: 0, durationMs: installHours * HOUR });
      reportRestart(
        out,
        `${nodes.toLocaleString("en-US")} nodes, first install: no condition of ours on the Nodes, every agent starts in the same second`,
        install,
        nodes,
        installHours,
        heartbeatMs,
        hourMean,
      );
    }
  }
}

function reportRestart(out: (line: string) => void, title: string, run: Run, nodes: number, hours: number, heartbeatMs: number, hourMean: number): void {
  const ps = run.perSecond;
  const peak = Math.max(...ps);
  const peakAt = ps.indexOf(peak);
  // Steady: from the first 10 minutes after which no 60 s window averages more than twice the steady fleet's mean,
  // judged only where at least one heartbeat period (with its jitter) follows.
  const block = 600;
  const judged = ps.length - Math.ceil((heartbeatMs * 1.1) / SECOND);
  let steadyFrom: number | undefined;
  for (let s = 0; s <= judged; s += block) {
    if (peakWindow(ps, 60, s) <= 2 * hourMean) {
      steadyFrom = s;
      break;
    }
  }
  const issued = run.api.count("nodes/status PATCH") + run.api.count("Event create") + run.api.count("Event patch");
  out(`\n${title}, ${hours} simulated hours (${fmt(run.realMs / 1000, 0)} s real):`);
  out(`| figure | value |\n|---|---|`);
  out(`| agents that found their Node current and did not write at start | ${run.skippedStartWrites} of ${nodes} |`);
  out(
    `| writes in the first 10 s / peak writes in one second | ${ps.slice(0, 10).reduce((a, b) => a + b, 0)} / ${peak} (at t = ${peakAt} s; plus ${run.api.reads} GET nodes, one per agent at start) |`,
  );
  out(`| worst minute: peak 60 s mean writes/s | ${fmt(peakWindow(ps, 60), 1)} |`);
  out(
    `| heartbeat waves: peak 60 s mean writes/s in each 10 min | ${Array.from({ length: Math.floor(ps.length / 600) }, (_, k) => fmt(peakWindow(ps, 60, k * 600, (k + 1) * 600), 1)).join(", ")} |`,
  );
  out(`| mean writes/s per hour | ${Array.from({ length: hours }, (_, h) => fmt(mean(ps.slice(h * 3600, (h + 1) * 3600)), 2)).join(" / ")} |`);
  out(
    `| steady again (every 60 s window ≤ 2 × the steady mean ${fmt(hourMean, 2)}/s) | ${steadyFrom !== undefined ? `after ${fmt(steadyFrom / 60, 0)} min` : `not within ${hours} simulated hours`} |`,
  );
  out(`requests the fake server logged: ${run.serverRequests} (writes ${run.serverWrites}), the sinks issued ${issued} writes, ${run.api.failures} failed`);
}
