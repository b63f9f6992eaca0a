/**
 * The exhaustion check's I/O: small /proc files read through the host root
 * (RootedHost: never outside it, a FIFO refused, every read bounded), the pod
 * cgroups' pids files, and kubelet's pid settings through the one kubelet
 * reader. Returns plain facts for judge.ts; the counters that need two looks
 * (conntrack's drops, a pod's refused forks) are compared in index.ts.
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
import { kubeletPidSettings, type KubeletPidSettings } from "../../node/kubelet/pids.js";
import type { KubeletSetup } from "../../node/kubelet/locator.js";
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
  /** The pids hierarchy, absent when neither /sys/fs/cgroup/cgroup.controllers nor /sys/fs/cgroup/pids exists. */
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

export async function readThreads(host: Host, signal: AbortSignal): Promise<ThreadFacts> {
  const load = parseLoadavg(await readSmall(host, "/proc/loadavg", signal));
  const [pidMax, threadsMax] = await Promise.all([sysctl(host, "/proc/sys/kernel/pid_max", signal), sysctl(host, "/proc/sys/kernel/threads-max", signal)]);
  return { threads: load.threads, pidMax, threadsMax };
}

export async function readFileHandles(host: Host, signal: AbortSignal): Promise<ExhaustionFacts["fileHandles"]> {
  const nr = parseFileNr(await readSmall(host, "/proc/sys/fs/file-nr", signal));
  return { ...nr, fileMax: await sysctl(host, "/proc/sys/fs/file-max", signal) };
}

export async function readInotify(host: Host, signal: AbortSignal): Promise<ExhaustionFacts["inotify"]> {
  const [instances, watches] = await Promise.all([
    optionalSysctl(host, "/proc/sys/fs/inotify/max_user_instances", signal),
    optionalSysctl(host, "/proc/sys/fs/inotify/max_user_watches", signal),
  ]);
  return { ...(instances !== undefined ? { maxUserInstances: instances } : {}), ...(watches !== undefined ? { maxUserWatches: watches } : {}) };
}

/** conntrack of the namespace the agent reads: the caller has told whether it is the host's. */
export async function readConntrack(host: Host, namespace: NetworkNamespace, signal: AbortSignal): Promise<ConntrackFacts> {
  if (namespace.host !== true) return { namespace };
  const count = await optionalSysctl(host, "/proc/sys/net/netfilter/nf_conntrack_count", signal);
  if (count === undefined) return { namespace };
  const max = await sysctl(host, "/proc/sys/net/netfilter/nf_conntrack_max", signal);
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

async function readCgroupPids(host: Host, mount: string, cgroup: string, signal: AbortSignal): Promise<CgroupPids | undefined> {
  const dir = `${mount}${cgroup}`;
  const current = await readOptional(host, `${dir}/pids.current`, signal);
  if (current === undefined) return undefined; // gone meanwhile, or the pids controller is not enabled there
  const max = await readOptional(host, `${dir}/pids.max`, signal);
  const events = await readOptional(host, `${dir}/pids.events`, signal);
  const uid = podUidOf(cgroup.split("/").at(-1) ?? "");
  return {
    cgroup,
    ...(uid ? { podUid: uid } : {}),
    current: parseSysctlInteger(`${dir}/pids.current`, current),
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
export async function readPodPids(host: Host, parents: readonly string[], signal: AbortSignal): Promise<PidsHierarchy | undefined> {
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
      const pod = await readCgroupPids(host, where.mount, cgroup, signal);
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
  /** Read the top-level cgroups too (the threads are high). */
  topConsumers: (threads: ThreadFacts) => boolean;
}

export async function gatherExhaustion(
  host: Host,
  kubelet: Pick<KubeletSetup, "flags" | "configFiles" | "configPath">,
  namespace: NetworkNamespace,
  options: GatherOptions,
  signal: AbortSignal,
): Promise<ExhaustionFacts> {
  const threads = await readThreads(host, signal);
  const fileHandles = await readFileHandles(host, signal);
  const inotify = await readInotify(host, signal);
  const conntrack = await readConntrack(host, namespace, signal);
  const pressure = await readPressure(host, signal);
  const pids = await readPodPids(host, options.podCgroupParents, signal);
  const facts: ExhaustionFacts = { threads, kubelet: kubeletPidSettings(kubelet), fileHandles, inotify, conntrack, ...pressure, ...(pids ? { pids } : {}) };
  if (pids && options.topConsumers(threads)) {
    const top = [...(await readTopLevelPids(host, pids, signal)), ...pids.pods].sort((a, b) => b.current - a.current).slice(0, 5);
    facts.topConsumers = top;
  }
  return facts;
}
