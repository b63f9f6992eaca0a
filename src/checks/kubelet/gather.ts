/**
 * What the kubelet check reads, I/O only: the process and its flags (through
 * the one kubelet reader), the unit tree, systemd over D-Bus, kubelet's
 * healthz, the node's addresses, the Node and its Lease through the API.
 *
 * What the check remembers between runs is one explicit value,
 * `KubeletMemory`: the D-Bus connection, the restarts seen, the last API
 * answer and its refresh in flight, and a healthy kubelet's slow facts.
 */
import { request } from "node:http";
import { canonicalIp, readHostAddresses } from "../../node/addresses.js";
import { present } from "../../node/could-not-look.js";
import { configValue, stringSetting } from "../../node/kubelet/config.js";
import { KUBELET_BINARIES, kubeletArgs, parseKubeletFlags, type KubeletLocator, type KubeletSetup } from "../../node/kubelet/locator.js";
import { readUnitFiles, SystemdBus, type UnitFiles, type UnitState } from "../../node/systemd.js";
import { flagSources, readEnvironmentArgs, readUnitCommand } from "../../node/unit-file.js";
import type { CheckContext, Clock, Host } from "../../types.js";
import type { KubeletSettings } from "./index.js";
import type { ClusterObservation, HealthzResult, KubeletObservation } from "./judge.js";
import { errorText } from "../../text/format.js";
import { deadline, within } from "../../time/deadline.js";

const CLUSTER_WAIT_MS = 2000;

const DEFAULT_HEALTHZ_PORT = 10248;

/** kubelet's healthz URL from its flags, then its config, then its defaults; undefined when healthzPort is 0 (disabled). */
export function healthzUrlFor(setup: Pick<KubeletSetup, "flags"> & Partial<Pick<KubeletSetup, "configFiles">>): string | undefined {
  const portSetting = setup.flags.values.get("healthz-port") ?? configValue(setup.configFiles, "healthzPort");
  const port = portSetting === undefined || portSetting === null ? DEFAULT_HEALTHZ_PORT : Number(portSetting);
  if (port === 0) return undefined;
  let address = stringSetting(setup.flags, setup.configFiles, "healthz-bind-address", "healthzBindAddress")?.value ?? "127.0.0.1";
  if (address === "" || address === "0.0.0.0") address = "127.0.0.1";
  if (address === "::") address = "::1";
  const host = address.includes(":") ? `[${address}]` : address;
  return `http://${host}:${Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_HEALTHZ_PORT}/healthz`;
}

/** One GET with its own deadline; never throws for a sick kubelet. */
export function probeHealthz(url: string, timeoutMs: number, signal: AbortSignal, clock: Clock): Promise<HealthzResult> {
  return new Promise((resolve) => {
    const limit = deadline(clock, timeoutMs, signal);
    let done = false;
    const finish = (result: HealthzResult) => {
      if (!done) {
        done = true;
        limit.clear();
        resolve(result);
      }
    };
    const req = request(url, { method: "GET", agent: false, signal: limit.signal, headers: { accept: "text/plain" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 512) body += chunk;
      });
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const text = body.trim().slice(0, 200);
        finish(status === 200 && text === "ok" ? { url, outcome: "ok", status } : { url, outcome: "status", status, body: text });
      });
      res.on("error", (error) => finish({ url, outcome: "error", detail: error.message }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (limit.signal.aborted && !signal.aborted) finish({ url, outcome: "timeout", detail: `${timeoutMs} ms` });
      else if (error.code === "ECONNREFUSED") finish({ url, outcome: "refused", detail: "connection refused" });
      else finish({ url, outcome: "error", detail: error.message });
    });
    req.end();
  });
}

async function firstExisting(host: Host, paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) if (await present(host, path)) return path;
  return undefined;
}

/** How long a healthy kubelet's unit files, systemd state and node addresses are reused. */
const SLOW_REFRESH_MS = 60_000;

/** Slow-changing observations of a healthy kubelet, reused for SLOW_REFRESH_MS. */
interface SlowFacts {
  identity: string;
  atMonotonicMs: number;
  unitFiles: UnitFiles;
  starters: UnitFiles[];
  presence: KubeletObservation["presence"];
  unitState?: UnitState;
  busError?: string;
  nodeIp: KubeletObservation["nodeIp"];
}

/** Everything the kubelet check carries from one run to the next. */
export interface KubeletMemory {
  bus: SystemdBus | undefined;
  /** The kubelet last seen (`pid@start`) and systemd's NRestarts then: a change is a restart. */
  lastProcess: string | undefined;
  lastNRestarts: number | undefined;
  /** Monotonic times of the restarts inside the window, oldest first. */
  restartTimes: number[];
  /** The last answer of the API server, and when it was asked. */
  cluster: { atMonotonicMs: number; value: ClusterObservation } | undefined;
  /** A Node + Lease read in flight, with the controller that ends it. */
  clusterRefresh: { done: Promise<void>; abort: AbortController } | undefined;
  slow: SlowFacts | undefined;
  /** The one log line for a host without kubelet is written. */
  saidNotANode: boolean;
}

export function newKubeletMemory(): KubeletMemory {
  return {
    bus: undefined,
    lastProcess: undefined,
    lastNRestarts: undefined,
    restartTimes: [],
    cluster: undefined,
    clusterRefresh: undefined,
    slow: undefined,
    saidNotANode: false,
  };
}

/** Counts restarts inside the window: a new kubelet process, or systemd's NRestarts grown. */
export function countRestarts(
  memory: KubeletMemory,
  now: number,
  process: KubeletObservation["process"],
  nRestarts: number | undefined,
  windowSeconds: number,
): number {
  const identity = process ? `${process.pid}@${process.startTimeMs ?? ""}` : undefined;
  const byPid = identity !== undefined && memory.lastProcess !== undefined && identity !== memory.lastProcess ? 1 : 0;
  const bySystemd = nRestarts !== undefined && memory.lastNRestarts !== undefined && nRestarts > memory.lastNRestarts ? nRestarts - memory.lastNRestarts : 0;
  // systemd's counter also sees restarts faster than our interval; a new pid covers kubelets not run by systemd.
  for (let i = 0; i < Math.max(byPid, bySystemd); i++) memory.restartTimes.push(now);
  if (identity !== undefined) memory.lastProcess = identity;
  if (nRestarts !== undefined) memory.lastNRestarts = nRestarts;
  const windowMs = windowSeconds * 1000;
  while (memory.restartTimes.length > 0 && (memory.restartTimes[0] as number) < now - windowMs) memory.restartTimes.shift();
  return memory.restartTimes.length;
}

/**
 * The Node and Lease, read at most once per clusterIntervalSeconds. A slow
 * API server must not hold up the local verdict: the run waits at most
 * CLUSTER_WAIT_MS for a refresh, then judges with the previous answer while
 * the refresh finishes in the background under its own deadline.
 */
async function observeCluster(memory: KubeletMemory, ctx: CheckContext, settings: KubeletSettings): Promise<ClusterObservation> {
  const reader = ctx.cluster;
  if (!reader) return { state: "absent" };
  const now = ctx.clock.monotonic();
  const stale = !memory.cluster || now - memory.cluster.atMonotonicMs >= settings.clusterIntervalSeconds * 1000;
  if (stale && !memory.clusterRefresh) {
    // One controller per read, aborted by its own timer or by close(): no signal outlives the read.
    const refresh = new AbortController();
    const limit = deadline(ctx.clock, settings.clusterTimeoutSeconds * 1000, refresh.signal);
    const done = (async () => {
      let value: ClusterObservation;
      try {
        const [{ node }, { lease }] = await Promise.all([reader.getNode(limit.signal), reader.getLease(limit.signal)]);
        value = { state: "ok", nodeName: reader.nodeName, node, lease, atMs: ctx.trustedNow().nowMs };
      } catch (error) {
        value = { state: "error", error: errorText(error) };
      }
      // Errors are cached too: a down API server is asked again on the same slow cadence.
      memory.cluster = { atMonotonicMs: now, value };
    })().finally(() => {
      limit.clear();
      memory.clusterRefresh = undefined;
    });
    memory.clusterRefresh = { done, abort: refresh };
  }
  if (memory.clusterRefresh) await within(ctx.clock, Math.min(CLUSTER_WAIT_MS, settings.timeoutSeconds * 500), memory.clusterRefresh.done, ctx.signal);
  return (
    memory.cluster?.value ?? {
      state: "error",
      error: `the API server did not answer within ${Math.min(CLUSTER_WAIT_MS, settings.timeoutSeconds * 500)} ms (still asking)`,
    }
  );
}

/** Ends what the memory holds open: the API read in flight and the D-Bus connection. */
export function closeKubeletMemory(memory: KubeletMemory): void {
  memory.clusterRefresh?.abort.abort(new Error("node-doctor is shutting down"));
  memory.bus?.close();
}

/** One run's observation. Liveness (process, healthz) is read every run; the slow facts of a healthy kubelet once a minute. */
export async function gatherKubelet(ctx: CheckContext, settings: KubeletSettings, kubelet: KubeletLocator, memory: KubeletMemory): Promise<KubeletObservation> {
  const { host, signal } = ctx;
  // Liveness: a discovery at most 2 s old, where the other checks take one up to 15 s old.
  const setup = await kubelet.locate(signal, { fresh: true });
  const identity = setup.process ? `${setup.process.pid}@${setup.process.startTimeMs ?? ""}` : undefined;
  // While the same kubelet stays healthy, what changes slowly (unit files, systemd's view, the
  // node's addresses) is re-read once a minute; liveness (process, healthz) every run. Any
  // doubt — another pid, a failed healthz — and everything is read again at once.
  const reuse =
    memory.slow && identity !== undefined && memory.slow.identity === identity && ctx.clock.monotonic() - memory.slow.atMonotonicMs < SLOW_REFRESH_MS
      ? memory.slow
      : undefined;

  const unitName = settings.unit ?? setup.distribution.kubeletUnit;
  let unitFiles: UnitFiles;
  let starters: UnitFiles[] = [];
  const presence: KubeletObservation["presence"] = {};
  let unitState: UnitState | undefined;
  let busError: string | undefined;
  if (reuse) {
    ({ unitFiles, unitState, busError, starters } = reuse);
    Object.assign(presence, reuse.presence);
  } else {
    unitFiles = await readUnitFiles(host, unitName, signal);
    for (const starter of setup.distribution.starters) starters.push(await readUnitFiles(host, starter, signal));
    const binary = await firstExisting(host, KUBELET_BINARIES);
    if (binary) presence.binary = binary;
    if (await present(host, setup.rootDir)) presence.stateDir = setup.rootDir;
    memory.bus ??= new SystemdBus(host, settings.dbusSocket, settings.dbusTimeoutSeconds * 1000);
    const couldBeNode = setup.process !== undefined || unitFiles.unitFile !== undefined || presence.binary !== undefined || presence.stateDir !== undefined;
    if (couldBeNode && (await memory.bus.available())) {
      try {
        unitState = await memory.bus.unitState(unitName, signal);
        // systemd's MainPID is the kubelet to trust among several processes named kubelet.
        if (unitState.mainPid) kubelet.noteUnit({ mainPid: unitState.mainPid });
      } catch (error) {
        signal.throwIfAborted();
        busError = errorText(error);
        ctx.log.debug({ err: busError }, "systemd unreachable over D-Bus; judging the unit from its files");
      }
    }
  }
  const maybeNode = setup.process !== undefined || unitFiles.unitFile !== undefined || presence.binary !== undefined || presence.stateDir !== undefined;

  const url = settings.healthzUrl ?? healthzUrlFor(setup);
  const healthz: HealthzResult | undefined = !maybeNode
    ? undefined
    : url
      ? await probeHealthz(url, settings.healthzTimeoutSeconds * 1000, signal, ctx.clock)
      : { url: "", outcome: "disabled", detail: "kubelet's healthz is disabled (healthzPort 0)" };

  const process = setup.process
    ? { pid: setup.process.pid, ...(setup.process.startTimeMs !== undefined ? { startTimeMs: setup.process.startTimeMs } : {}) }
    : undefined;
  const restarts = countRestarts(memory, ctx.clock.monotonic(), process, reuse ? undefined : unitState?.nRestarts, settings.restartWindowSeconds);

  const clusterObservation = maybeNode || healthz?.outcome === "ok" ? await observeCluster(memory, ctx, settings) : { state: "absent" as const };
  const nodeIp = reuse
    ? reuse.nodeIp
    : maybeNode
      ? await observeNodeIp(ctx, setup, clusterObservation)
      : { wanted: [], source: "", present: [], missing: [], problems: [] };
  if (identity !== undefined && healthz?.outcome === "ok") {
    if (!reuse)
      memory.slow = {
        identity,
        atMonotonicMs: ctx.clock.monotonic(),
        unitFiles,
        starters,
        presence: { ...presence },
        ...(unitState ? { unitState } : {}),
        ...(busError ? { busError } : {}),
        nodeIp,
      };
  } else memory.slow = undefined;

  return {
    unitName,
    distribution: setup.distribution,
    starters,
    ...(setup.embedded ? { embedded: true } : {}),
    presence,
    ...(process ? { process } : {}),
    otherPids: setup.otherProcesses.map((p) => p.pid),
    unitFiles,
    ...(unitState ? { unitState } : {}),
    ...(busError ? { busError } : {}),
    ...(healthz ? { healthz } : {}),
    restarts: { count: restarts, windowSeconds: settings.restartWindowSeconds },
    nodeIp,
    cluster: clusterObservation,
    nowMs: ctx.trustedNow().nowMs,
  };
}

async function observeNodeIp(ctx: CheckContext, setup: KubeletSetup, cluster: ClusterObservation): Promise<KubeletObservation["nodeIp"]> {
  let flagValue = setup.flags.values.get("node-ip");
  let source = setup.process ? `--node-ip of kubelet pid ${setup.process.pid}` : "";
  if (flagValue === undefined && !setup.process) {
    // kubelet is down: the command line its unit starts it with still says what it will be told.
    const unit = await readUnitCommand(ctx.host, setup.distribution.kubeletUnit, ctx.signal);
    if (unit && /\/(kubelet|hyperkube)$|^(kubelet|hyperkube)$/.test(unit.argv[0] ?? "")) {
      flagValue = parseKubeletFlags(kubeletArgs(unit.argv)).values.get("node-ip");
      source = `--node-ip in ${flagSources(unit.sources, ["node-ip"])["node-ip"] ?? unit.unitFiles.join(", ")}`;
    } else if (!unit) {
      // The unit is not visible (the chart mounts /etc/systemd, not /lib/systemd): kubeadm's environment files still say it.
      const env = await readEnvironmentArgs(ctx.host, ctx.signal);
      flagValue = parseKubeletFlags(env.args).values.get("node-ip");
      source = `--node-ip in ${env.sources.join(", ")}`;
    }
  }
  let wanted = (flagValue ?? "")
    .split(",")
    .map((v) => canonicalIp(v))
    .filter((v): v is string => v !== undefined && v !== "0.0.0.0" && v !== "::");
  if (wanted.length === 0 && cluster.state === "ok" && cluster.node) {
    wanted = (cluster.node.status?.addresses ?? [])
      .filter((a) => a.type === "InternalIP")
      .map((a) => canonicalIp(a.address))
      .filter((v): v is string => v !== undefined);
    source = `InternalIP of Node ${cluster.nodeName}`;
  }
  if (wanted.length === 0) return { wanted, source: "", present: [], missing: [], problems: [] };
  const addresses = await readHostAddresses(ctx.host, ctx.signal);
  // Unreadable address tables prove nothing: say nothing rather than a false critical.
  if (addresses.addresses.size === 0) return { wanted, source, present: [], missing: [], problems: addresses.problems };
  const present = [...addresses.addresses].filter((a) => a !== "127.0.0.1" && a !== "::1");
  return { wanted, source, present, missing: wanted.filter((ip) => !addresses.addresses.has(ip)), problems: addresses.problems };
}
