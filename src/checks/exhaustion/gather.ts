/**
 * The exhaustion check's I/O: small /proc files read through the host root
 * (RootedHost: never outside it, a FIFO refused, every read bounded), the pod
 * cgroups' pids files, and kubelet's pid settings through the one kubelet
 * reader. Returns plain facts for judge.ts; the counters that need two looks
 * (conntrack's drops, a pod's refused forks) are compared in index.ts.
 *
 * What changes between looks is read at every look (tasks, handles,
 * conntrack entries and events, PSI: 7 files and the 2 namespace links); the limits (sysctls) and the
 * pod cgroups (3 files a pod) only when the caller says so: every file read
 * through a host root costs about 0.1 ms of CPU (resolve, open, stat, read,
 * close), and a node's 110 pods would make a look 40 times dearer.
 */
import { HostPathError } from "../../node/host.js";
import {
  parseConntrackStat,
  parseFileNr,
  parseLoadavg,
  parsePidsEvents,
  parsePidsMax,
  parsePressure,
  parseSysctlInteger,
  podUidOf,
  type ConntrackStats,
  type FileHandles,
  type Pressure,
} from "../../node/kernel-limits.js";
import type { KubeletPidSettings } from "../../node/kubelet/pids.js";
import type { NetworkNamespace } from "../../node/namespaces.js";
import type { Host } from "../../types.js";

/** Every file here is a line or a few: 64 KiB bounds the largest (the conntrack stat file, a row per possible CPU). */
const SMALL = 64 * 1024;
/** Pod cgroups read at most: kubelet's maxPods default is 110, 250 is the most any provider sets; more is not a node. */
const MAX_PODS = 512;
/** Top-level cgroups read at most when naming the largest consumers. */
const MAX_TOP_LEVEL = 64;

export const PRESSURE_RESOURCES = ["memory", "io", "cpu"] as const;
export type PressureResource = (typeof PRESSURE_RESOURCES)[number];

export interface ThreadFacts {
  /** Every task on the node (/proc/loadavg field 4): what both limits count. */
  threads: number;
  pidMax: number;
  threadsMax: number;
}

/** The sysctls that set the limits: read again every limitsRefreshSeconds (an operator or kube-proxy changes them, looks do not). */
export interface Limits {
  pidMax: number;
  threadsMax: number;
  inotify: { maxUserInstances?: number; maxUserWatches?: number };
  /** nf_conntrack_max; absent when nf_conntrack is not loaded or the namespace is not the host's. */
  conntrackMax?: number;
}

export interface CgroupPids {
  /** The cgroup's path under the pids hierarchy: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod….slice". */
  cgroup: string;
  /** The pod's UID, for a pod cgroup. */
  podUid?: string;
  current: number;
  max: number | "max";
  /** pids.events "max": forks refused since the cgroup was made; absent when the file is. */
  refused?: number;
}

export interface PidsHierarchy {
  /** "v2" (the unified hierarchy at /sys/fs/cgroup) or "v1" (the pids controller at /sys/fs/cgroup/pids). */
  version: "v1" | "v2";
  mount: string;
  pods: CgroupPids[];
  /** The pod-parent cgroups found (kubepods.slice, kubepods). */
  parents: CgroupPids[];
  /** Set when pod cgroups were left unread past MAX_PODS. */
  truncated?: boolean;
}

export interface ConntrackFacts {
  namespace: NetworkNamespace;
  /** Absent when nf_conntrack is not loaded (no /proc/sys/net/netfilter/nf_conntrack_count): nothing is tracked, nothing fills. */
  count?: number;
  max?: number;
  stats?: ConntrackStats;
}

export interface ExhaustionFacts {
  threads: ThreadFacts;
  kubelet: KubeletPidSettings;
  /** The pids hierarchy when read at this look; absent between scans, or when neither /sys/fs/cgroup/cgroup.controllers nor /sys/fs/cgroup/pids exists. */
  pids?: PidsHierarchy;
  /** The largest consumers of tasks by cgroup (pods and top-level cgroups), read only when threads are high. */
  topConsumers?: CgroupPids[];
  fileHandles: FileHandles & { fileMax: number };
  inotify: { maxUserInstances?: number; maxUserWatches?: number };
  conntrack: ConntrackFacts;
  /** Per resource; absent when the kernel has no PSI (CONFIG_PSI off, psi=0: the files are missing or refuse reads). */
  pressure: Partial<Record<PressureResource, Pressure>>;
  pressureProblem?: string;
}

function missing(error: unknown): boolean {
  // ENOTDIR: a file where a cgroup was looked for (cgroup.procs beside the cgroups).
  return error instanceof HostPathError && (error.code === "ENOENT" || error.code === "ENOTDIR");
}

async function readSmall(host: Host, path: string, signal: AbortSignal): Promise<string> {
  return host.readText(path, { maxBytes: SMALL, signal });
}

/** The text of an optional file; undefined when it does not exist. */
async function readOptional(host: Host, path: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    return await readSmall(host, path, signal);
  } catch (error) {
    signal.throwIfAborted();
    if (missing(error)) return undefined;
    throw error;
  }
}

async function sysctl(host: Host, path: string, signal: AbortSignal): Promise<number> {
  return parseSysctlInteger(path, await readSmall(host, path, signal));
}

async function optionalSysctl(host: Host, path: string, signal: AbortSignal): Promise<number | undefined> {
  const text = await readOptional(host, path, signal);
  return text === undefined ? undefined : parseSysctlInteger(path, text);
}

export async function readLimits(host: Host, namespace: NetworkNamespace, signal: AbortSignal): Promise<Limits> {
  const [pidMax, threadsMax, inotify] = await Promise.all([
    sysctl(host, "/proc/sys/kernel/pid_max", signal),
    sysctl(host, "/proc/sys/kernel/threads-max", signal),
    readInotify(host, signal),
  ]);
  // nf_conntrack_max is global but only readable where conntrack is judged.
  const conntrackMax = namespace.host === true ? await optionalSysctl(host, "/proc/sys/net/netfilter/nf_conntrack_max", signal) : undefined;
  return { pidMax, threadsMax, inotify, ...(conntrackMax !== undefined ? { conntrackMax } : {}) };
}

export async function readThreads(host: Host, limits: Pick<Limits, "pidMax" | "threadsMax">, signal: AbortSignal): Promise<ThreadFacts> {
  const load = parseLoadavg(await readSmall(host, "/proc/loadavg", signal));
  return { threads: load.threads, pidMax: limits.pidMax, threadsMax: limits.threadsMax };
}

/** file-nr carries fs.file-max as its third field: one read for both. */
export async function readFileHandles(host: Host, signal: AbortSignal): Promise<ExhaustionFacts["fileHandles"]> {
  const nr = parseFileNr(await readSmall(host, "/proc/sys/fs/file-nr", signal));
  return { ...nr, fileMax: nr.max };
}

export async function readInotify(host: Host, signal: AbortSignal): Promise<ExhaustionFacts["inotify"]> {
  const [instances, watches] = await Promise.all([
    optionalSysctl(host, "/proc/sys/fs/inotify/max_user_instances", signal),
    optionalSysctl(host, "/proc/sys/fs/inotify/max_user_watches", signal),
  ]);
  return { ...(instances !== undefined ? { maxUserInstances: instances } : {}), ...(watches !== undefined ? { maxUserWatches: watches } : {}) };
}

/** conntrack of the namespace the agent reads: the caller has told whether it is the host's. */
export async function readConntrack(
  host: Host,
  namespace: NetworkNamespace,
  limits: Pick<Limits, "conntrackMax">,
  signal: AbortSignal,
): Promise<ConntrackFacts> {
  if (namespace.host !== true) return { namespace };
  const count = await optionalSysctl(host, "/proc/sys/net/netfilter/nf_conntrack_count", signal);
  if (count === undefined) return { namespace };
  // Loaded since the limits were read: read its limit now.
  const max = limits.conntrackMax ?? (await sysctl(host, "/proc/sys/net/netfilter/nf_conntrack_max", signal));
  const stat = await readOptional(host, "/proc/net/stat/nf_conntrack", signal);
  return { namespace, count, max, ...(stat !== undefined ? { stats: parseConntrackStat(stat) } : {}) };
}

/**
 * Pressure files; a kernel without PSI has none (ENOENT) or refuses reads
 * (EOPNOTSUPP with psi=0 on the command line): that is "no PSI", not a failure.
 */
export async function readPressure(host: Host, signal: AbortSignal): Promise<Pick<ExhaustionFacts, "pressure" | "pressureProblem">> {
  const pressure: ExhaustionFacts["pressure"] = {};
  const problems: string[] = [];
  for (const resource of PRESSURE_RESOURCES) {
    const path = `/proc/pressure/${resource}`;
    try {
      pressure[resource] = parsePressure(path, await readSmall(host, path, signal));
    } catch (error) {
      signal.throwIfAborted();
      if (!(error instanceof HostPathError)) throw error;
      problems.push(error.message);
    }
  }
  return { pressure, ...(problems.length ? { pressureProblem: problems.join("; ") } : {}) };
}

/**
 * A cgroup's task count, and its limit and refused forks. Given `expected`
 * (the pids.max kubelet writes on every pod: podPidsLimit), pids.max and
 * pids.events are read only when the count is within `near` of it: a pod
 * costs one read, not three, on a node whose pods are far from their limit.
 */
async function readCgroupPids(
  host: Host,
  mount: string,
  cgroup: string,
  signal: AbortSignal,
  skip?: { expected: number; near: number },
): Promise<CgroupPids | undefined> {
  const dir = `${mount}${cgroup}`;
  const text = await readOptional(host, `${dir}/pids.current`, signal);
  if (text === undefined) return undefined; // gone meanwhile, or the pids controller is not enabled there
  const current = parseSysctlInteger(`${dir}/pids.current`, text);
  const uid = podUidOf(cgroup.split("/").at(-1) ?? "");
  const base = { cgroup, ...(uid ? { podUid: uid } : {}), current };
  if (skip && current < skip.expected * skip.near) return { ...base, max: skip.expected };
  const max = await readOptional(host, `${dir}/pids.max`, signal);
  const events = await readOptional(host, `${dir}/pids.events`, signal);
  return {
    ...base,
    max: max === undefined ? "max" : parsePidsMax(`${dir}/pids.max`, max),
    ...(events !== undefined ? { refused: parsePidsEvents(`${dir}/pids.events`, events) } : {}),
  };
}

async function listDirs(host: Host, path: string): Promise<string[]> {
  try {
    return await host.list(path);
  } catch (error) {
    if (missing(error)) return [];
    throw error;
  }
}

/** Where the pids controller is: the unified hierarchy when it is mounted at /sys/fs/cgroup, else cgroup v1's pids hierarchy. */
export async function pidsMount(host: Host): Promise<{ version: "v1" | "v2"; mount: string } | undefined> {
  if (await host.exists("/sys/fs/cgroup/cgroup.controllers")) return { version: "v2", mount: "/sys/fs/cgroup" };
  if (await host.exists("/sys/fs/cgroup/pids/tasks")) return { version: "v1", mount: "/sys/fs/cgroup/pids" };
  return undefined;
}

/**
 * Every pod cgroup under the pod parents (kubelet's kubepods.slice with the
 * systemd driver, kubepods with cgroupfs): Guaranteed pods directly below,
 * Burstable and BestEffort pods one level down.
 */
export async function readPodPids(
  host: Host,
  parents: readonly string[],
  signal: AbortSignal,
  /** kubelet's podPidsLimit and the share of it from which a pod's limit and refusals are read. */
  pods?: { expected: number; near: number },
): Promise<PidsHierarchy | undefined> {
  const where = await pidsMount(host);
  if (!where) return undefined;
  const out: PidsHierarchy = { ...where, pods: [], parents: [] };
  for (const parent of parents) {
    const base = `/${parent.replace(/^\/+|\/+$/g, "")}`;
    const own = await readCgroupPids(host, where.mount, base, signal);
    if (!own) continue;
    out.parents.push(own);
    const podDirs: string[] = [];
    for (const name of await listDirs(host, `${where.mount}${base}`)) {
      if (podUidOf(name)) podDirs.push(`${base}/${name}`);
      else if (/(^|-)(besteffort|burstable)(\.slice)?$/.test(name)) {
        for (const child of await listDirs(host, `${where.mount}${base}/${name}`)) if (podUidOf(child)) podDirs.push(`${base}/${name}/${child}`);
      }
    }
    for (const cgroup of podDirs) {
      if (out.pods.length >= MAX_PODS) {
        out.truncated = true;
        break;
      }
      signal.throwIfAborted();
      const pod = await readCgroupPids(host, where.mount, cgroup, signal, pods);
      if (pod) out.pods.push(pod);
    }
  }
  return out;
}

/** The top-level cgroups' task counts (kubepods.slice, system.slice, user.slice …), for naming who holds the threads when they run high. */
export async function readTopLevelPids(host: Host, hierarchy: PidsHierarchy, signal: AbortSignal): Promise<CgroupPids[]> {
  const out: CgroupPids[] = [...hierarchy.parents];
  const parents = new Set(hierarchy.parents.map((p) => p.cgroup));
  for (const name of await listDirs(host, hierarchy.mount)) {
    if (name.includes(".") && !name.endsWith(".slice") && !name.endsWith(".scope")) continue; // cgroup.procs, pids.max: files
    if (out.length >= MAX_TOP_LEVEL) break;
    // The pod parents are read already.
    if (parents.has(`/${name}`)) continue;
    const entry = await readCgroupPids(host, hierarchy.mount, `/${name}`, signal);
    if (entry) out.push(entry);
  }
  return out;
}

export interface GatherOptions {
  podCgroupParents: readonly string[];
  /** The limits of an earlier look while they are fresh; absent: read them now. */
  limits?: Limits;
  /** Whether to read every pod cgroup at this look (a scan is due, or the tasks are high), given the tasks now. */
  scanPods: (threads: ThreadFacts) => boolean;
  /** The share of podPidsLimit from which a pod's pids.max and pids.events are read (the warning's). */
  podNearShare: number;
  /** Whether to name the largest consumers (the tasks are high); implies a scan. */
  topConsumers: (threads: ThreadFacts) => boolean;
}

export async function gatherExhaustion(
  host: Host,
  /** kubelet's pid settings (kubeletPidSettings of the one kubelet reader's answer). */
  pidSettings: KubeletPidSettings,
  namespace: NetworkNamespace,
  options: GatherOptions,
  signal: AbortSignal,
): Promise<{ facts: ExhaustionFacts; limits: Limits }> {
  const limits = options.limits ?? (await readLimits(host, namespace, signal));
  const threads = await readThreads(host, limits, signal);
  const fileHandles = await readFileHandles(host, signal);
  const conntrack = await readConntrack(host, namespace, limits, signal);
  const pressure = await readPressure(host, signal);
  const top = options.topConsumers(threads);
  const expected = pidSettings.podPidsLimit;
  const pids =
    top || options.scanPods(threads)
      ? await readPodPids(host, options.podCgroupParents, signal, expected !== undefined ? { expected, near: options.podNearShare } : undefined)
      : undefined;
  const facts: ExhaustionFacts = {
    threads,
    kubelet: pidSettings,
    fileHandles,
    inotify: limits.inotify,
    conntrack,
    ...pressure,
    ...(pids ? { pids } : {}),
  };
  if (pids && top) facts.topConsumers = [...(await readTopLevelPids(host, pids, signal)), ...pids.pods].sort((a, b) => b.current - a.current).slice(0, 5);
  return { facts, limits };
}
