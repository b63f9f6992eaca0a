/**
 * What the runtime check reads, I/O only: the endpoint kubelet uses, the
 * socket, the CRI calls (each under a deadline inside the run's budget),
 * containerd's config, the CNI files, and systemd's view of the unit when
 * the runtime does not answer.
 *
 * What the check keeps between runs is `RuntimeMemory`: the CRI connection
 * and the D-Bus connection.
 */
import { cniDirs, readCniState } from "../../node/cni.js";
import { readContainerdConfig } from "../../node/containerd-config.js";
import { CriClient, type CriMethod } from "../../wire/cri.js";
import { GRPC_STATUS, GrpcError } from "../../wire/grpc.js";
import { stringSetting } from "../../node/kubelet/config.js";
import type { KubeletSetup } from "../../node/kubelet/locator.js";
import { SystemdBus } from "../../node/systemd.js";
import { ProtoError } from "../../wire/protobuf.js";
import type { CheckContext, Host } from "../../types.js";
import type { RuntimeSettings } from "./index.js";
import { DEFAULT_RUNTIME_SOCKETS, KUBELET_MARKERS, runtimeUnitName, type EndpointChoice, type RuntimeObservation } from "./judge.js";
import { errorText } from "../../text/format.js";
import { withDeadline, within } from "../../time/deadline.js";

/** kubelet's endpoint syntax: "unix:///path", or a bare absolute path (deprecated but accepted). */
export function parseEndpoint(value: string): { socketPath: string } | { problem: string } {
  const trimmed = value.trim();
  if (trimmed.startsWith("/")) return { socketPath: trimmed };
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(trimmed);
  if (!match) return { problem: `${JSON.stringify(value)} is not an endpoint: expected unix:///path/to/socket` };
  const scheme = (match[1] as string).toLowerCase();
  const rest = match[2] as string;
  if (scheme !== "unix") return { problem: `${JSON.stringify(value)} uses ${scheme}://; only unix sockets are supported on Linux nodes` };
  if (!rest.startsWith("/")) return { problem: `${JSON.stringify(value)} has no absolute socket path after unix://` };
  return { socketPath: rest };
}
/** Picks the endpoint: our setting, kubelet's flag, kubelet's config, kubelet's default, else the usual sockets. */
export async function chooseEndpoint(host: Host, kubelet: KubeletSetup, override: string | undefined): Promise<EndpointChoice> {
  const from = (endpoint: string, source: string): EndpointChoice => {
    const parsed = parseEndpoint(endpoint);
    return "problem" in parsed ? { endpoint, source, problem: parsed.problem } : { endpoint, source, socketPath: parsed.socketPath };
  };
  if (override) return from(override, "checks.runtime.endpoint");
  const configured = stringSetting(kubelet.flags, kubelet.configFiles, "container-runtime-endpoint", "containerRuntimeEndpoint");
  if (configured?.from === "flag") return from(configured.value, "kubelet flag --container-runtime-endpoint");
  if (configured) return from(configured.value, `containerRuntimeEndpoint in ${configured.path}`);
  // kubelet's own default is containerd's socket; a distribution that runs its own containerd (k3s, RKE2) points it elsewhere.
  if (kubelet.process) {
    const socket = kubelet.distribution.runtimeSocket;
    return from(
      `unix://${socket}`,
      socket === "/run/containerd/containerd.sock" ? "kubelet's default endpoint" : `${kubelet.distribution.name}'s runtime socket`,
    );
  }
  for (const path of DEFAULT_RUNTIME_SOCKETS) {
    if (await host.exists(path)) return { endpoint: path, source: "the usual runtime sockets (no kubelet running)", socketPath: path };
  }
  // A runtime installed on a workstation (Docker pulls in containerd) does not make it a node:
  // only kubelet's own traces do, as for the kubelet check's NotAKubernetesNode.
  let installed = false;
  for (const path of [kubelet.rootDir, ...KUBELET_MARKERS]) if (!installed && (await host.exists(path))) installed = true;
  return {
    endpoint: DEFAULT_RUNTIME_SOCKETS[0] as string,
    source: "the usual runtime sockets (no kubelet running)",
    socketPath: DEFAULT_RUNTIME_SOCKETS[0] as string,
    probed: DEFAULT_RUNTIME_SOCKETS,
    ...(installed ? {} : { noRuntime: true }),
  };
}

async function socketProblem(host: Host, nodePath: string): Promise<string | undefined> {
  try {
    const st = await host.stat(nodePath);
    if (st.kind !== "socket") return `is a ${st.kind}, not a socket`;
    return undefined;
  } catch (error) {
    const message = errorText(error);
    return message.startsWith(`${nodePath}: `) ? message.slice(nodePath.length + 2) : message;
  }
}

function outcomeOf(error: unknown): string {
  if (error instanceof GrpcError) return error.kind === "status" ? (GRPC_STATUS[error.code ?? 2] ?? `code_${error.code}`) : error.kind;
  if (error instanceof ProtoError) return "invalid_reply";
  return "error";
}

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

/** Failures a kept connection shows when the runtime restarted since it was opened. */
const STALE_CONNECTION = new Set(["closed", "protocol", "refused", "missing"]);

/**
 * The check's CRI connection, kept between runs: a new HTTP/2 session every
 * run costs the agent more memory churn than the calls themselves.
 */
class RuntimeConnections {
  private current?: { local: string; client: CriClient };

  acquire(local: string): { client: CriClient; reused: boolean } {
    if (this.current?.local === local && this.current.client.usable) return { client: this.current.client, reused: true };
    this.drop();
    const client = new CriClient(local);
    this.current = { local, client };
    return { client, reused: false };
  }

  drop(): void {
    this.current?.client.close();
    delete this.current;
  }
}

export async function gatherRuntime(
  ctx: CheckContext,
  settings: RuntimeSettings,
  timeoutMs: number,
  kubelet: KubeletSetup,
  connections: RuntimeConnections,
  started: number,
): Promise<RuntimeObservation> {
  // Leave the engine's timeout for the engine: from the run's start (finding kubelet included), the calls stop well before it.
  const budgetEnd = started + timeoutMs * 0.8;
  const endpoint = await chooseEndpoint(ctx.host, kubelet, settings.endpoint);
  const obs: RuntimeObservation = { endpoint, requests: [] };
  if (endpoint.problem || !endpoint.socketPath) return obs;

  const containerdPath = kubelet.distribution.containerdConfig;
  obs.containerdConfigPath = containerdPath;
  if (kubelet.distribution.runtimeUnit !== "containerd.service") obs.distributionUnit = kubelet.distribution.runtimeUnit;
  const containerdConfig = await readContainerdConfig(ctx.host, containerdPath, ctx.signal);
  if (containerdConfig.ok && containerdConfig.criDisabled) obs.criDisabledIn = containerdPath;
  const { problem: cniDirsProblem, ...dirs } = cniDirs(containerdConfig, { confDir: settings.cniConfDir, binDirs: settings.cniBinDirs });
  if (cniDirsProblem) ctx.log.debug({ problem: cniDirsProblem }, "containerd's config gives no CNI directories; using the defaults");
  const cniPromise = readCniState(ctx.host, { ...dirs, signal: ctx.signal });
  cniPromise.catch(() => undefined); // awaited below; a rejection before then must not go unhandled

  const problem = await socketProblem(ctx.host, endpoint.socketPath);
  if (problem) {
    obs.socketProblem = problem;
    const dir = endpoint.socketPath.replace(/\/[^/]*$/, "") || "/";
    if (!endpoint.probed && !(await ctx.host.exists(dir))) obs.socketDirMissing = dir;
    connections.drop();
    return obs;
  }
  const local = ctx.host.local(await ctx.host.resolve(endpoint.socketPath));
  if (Buffer.byteLength(local) > MAX_UNIX_PATH_BYTES) {
    // connect() would truncate it and report a missing socket: say what really stops us looking.
    throw new Error(
      `${local} is ${Buffer.byteLength(local)} bytes, longer than a unix socket address allows (${MAX_UNIX_PATH_BYTES}): use a shorter --host-root`,
    );
  }
  let { client, reused } = connections.acquire(local);
  let lastTimeoutMs = 0;
  const call = async <T>(method: CriMethod, fn: (c: CriClient, o: { timeoutMs: number; signal: AbortSignal }) => Promise<T>): Promise<T> => {
    const begin = ctx.clock.monotonic();
    const timeoutMs = Math.max(1, Math.min(settings.requestTimeoutSeconds * 1000, budgetEnd - begin));
    lastTimeoutMs = timeoutMs;
    try {
      const value = await fn(client, { timeoutMs, signal: ctx.signal });
      obs.requests.push({ method, seconds: (ctx.clock.monotonic() - begin) / 1000, outcome: "OK" });
      return value;
    } catch (error) {
      // A kept connection may have gone stale (the runtime restarted): one retry on a new one.
      if (reused && error instanceof GrpcError && STALE_CONNECTION.has(error.kind)) {
        connections.drop();
        ({ client, reused } = connections.acquire(local));
        return call(method, fn);
      }
      obs.requests.push({ method, seconds: (ctx.clock.monotonic() - begin) / 1000, outcome: outcomeOf(error) });
      // A connection that failed or hung is not kept for the next run.
      connections.drop();
      // The local path means nothing to an operator: name the node path.
      if (error instanceof GrpcError) throw new GrpcError(error.kind, error.message.split(local).join(endpoint.socketPath as string), error.code);
      throw error;
    }
  };
  try {
    obs.version = await call("Version", (c, o) => c.version(o));
    obs.conditions = (await call("Status", (c, o) => c.status(o))).conditions;
    obs.runningContainers = await call("ListContainers", (c, o) => c.runningContainers(o));
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!(error instanceof GrpcError || error instanceof ProtoError)) throw error;
    obs.failure = { method: obs.conditions ? "ListContainers" : obs.version ? "Status" : "Version", error, timeoutMs: lastTimeoutMs };
    return obs;
  }
  try {
    const info = await call("ImageFsInfo", (c, o) => c.imageFsInfo(o));
    const first = info.imageFilesystems.find((fs) => fs.mountpoint !== "");
    if (first) obs.imageFs = first;
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!(error instanceof GrpcError || error instanceof ProtoError)) throw error;
    obs.imageFsFailure = error;
  }
  const networkReady = obs.conditions.find((c) => c.type === "NetworkReady")?.status === true;
  try {
    // A CNI directory on a stuck filesystem must not cost the runtime finding: wait only what the budget leaves.
    const left = Math.max(0, budgetEnd - ctx.clock.monotonic());
    const cni = await within(ctx.clock, left, cniPromise);
    if (cni) obs.cni = cni;
    else ctx.log.warn({ confDir: dirs.confDir }, "the CNI configuration could not be read within the check's time budget");
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!networkReady) ctx.log.warn({ err: String(error) }, "could not read the CNI configuration");
  }
  return obs;
}

/** Everything the runtime check carries from one run to the next. */
export interface RuntimeMemory {
  connections: RuntimeConnections;
  bus: SystemdBus | undefined;
}

export function newRuntimeMemory(): RuntimeMemory {
  return { connections: new RuntimeConnections(), bus: undefined };
}

export function closeRuntimeMemory(memory: RuntimeMemory): void {
  memory.connections.drop();
  memory.bus?.close();
}

/** Asks systemd about the unit only when the runtime did not answer: that is when its state explains something. */
export async function askSystemd(
  ctx: CheckContext,
  settings: RuntimeSettings,
  memory: RuntimeMemory,
  obs: RuntimeObservation,
  startedMs: number,
): Promise<void> {
  const timeoutMs = settings.timeoutSeconds * 1000;
  const down = (obs.socketProblem !== undefined && !obs.endpoint.noRuntime) || (obs.failure !== undefined && obs.failure.error instanceof GrpcError);
  if (!down) return;
  const name = runtimeUnitName(obs, settings.unit);
  obs.unit = { name };
  const bus = (memory.bus ??= new SystemdBus(ctx.host, settings.dbusSocket, settings.dbusTimeoutSeconds * 1000));
  if (!(await bus.available())) return;
  // Whatever time the CRI calls left: a hung bus must not turn a runtime finding into a timed-out check.
  const left = startedMs + timeoutMs * 0.95 - ctx.clock.monotonic();
  if (left < 50) {
    obs.unit.busError = "no time left within the check's timeout";
    return;
  }
  try {
    obs.unit.state = await withDeadline(ctx.clock, Math.floor(left), ctx.signal, (signal) => bus.unitState(name, signal));
  } catch (error) {
    ctx.signal.throwIfAborted();
    obs.unit.busError = errorText(error);
    ctx.log.debug({ err: obs.unit.busError }, "systemd unreachable over D-Bus; the runtime's unit state is unknown");
  }
}
