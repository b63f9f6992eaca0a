/**
 * Processes on the node, read from the host's /proc (mounted under the host
 * root, so the agent does not need hostPID). Races with exiting processes are
 * normal: a pid that vanishes mid-read is skipped, never an error.
 */
import type { Host } from "../types.js";
import { throwIfOwnFailure } from "./could-not-look.js";

export interface ProcessInfo {
  pid: number;
  /** Kernel's short name (/proc/<pid>/comm, at most 15 characters). */
  comm: string;
  /** Command line split on NUL; empty for kernel threads and zombies. */
  argv: string[];
  /** Wall-clock start time in ms, when /proc/stat's btime is readable. */
  startTimeMs?: number;
  /** Real and effective uid from /proc/<pid>/status; absent when it cannot be read. */
  uid?: { real: number; effective: number };
  /** The executable (/proc/<pid>/exe), " (deleted)" removed; absent when the link cannot be read (no CAP_SYS_PTRACE in a pod). */
  exe?: string;
  /** The executable was replaced or removed since the process started (a package upgrade). */
  exeDeleted?: boolean;
}

/** USER_HZ: fixed at 100 by the kernel ABI on every architecture Kubernetes runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export async function listPids(host: Host): Promise<number[]> {
  const entries = await host.list("/proc");
  const pids: number[] = [];
  for (const entry of entries) if (/^\d+$/.test(entry)) pids.push(Number(entry));
  return pids.sort((a, b) => a - b);
}

/** Splits /proc/<pid>/cmdline; tolerates a missing final NUL and stray empty args. */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** Boot time in seconds since the epoch, from /proc/stat's "btime" line. */
export function parseBootTime(procStat: string): number | undefined {
  const match = /^btime (\d+)$/m.exec(procStat);
  return match ? Number(match[1]) : undefined;
}

/** Start time in clock ticks since boot: field 22 of /proc/<pid>/stat (comm may hold spaces and parens). */
export function parseStartTicks(pidStat: string): number | undefined {
  const afterComm = pidStat.slice(pidStat.lastIndexOf(")") + 2);
  const fields = afterComm.split(" ");
  // afterComm starts at field 3 (state), so field 22 is index 19.
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) && fields[19] !== undefined && fields[19] !== "" ? ticks : undefined;
}

/** "Uid:\t0\t0\t0\t0" of /proc/<pid>/status: real, effective, saved, filesystem. */
export function parseStatusUid(status: string): { real: number; effective: number } | undefined {
  const match = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  return match ? { real: Number(match[1]), effective: Number(match[2]) } : undefined;
}

async function readOptional(host: Host, nodePath: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await host.readText(nodePath, { maxBytes: 1024 * 1024, ...(signal ? { signal } : {}) });
  } catch (error) {
    // Out of descriptors is not "the process exited": kubelet would vanish from the answer.
    throwIfOwnFailure(error, nodePath);
    return undefined;
  }
}

export async function bootTimeSeconds(host: Host, signal?: AbortSignal): Promise<number | undefined> {
  const stat = await readOptional(host, "/proc/stat", signal);
  return stat === undefined ? undefined : parseBootTime(stat);
}

/** Reads one process; undefined when it exited meanwhile or is unreadable. */
export async function readProcess(
  host: Host,
  pid: number,
  options: {
    bootTimeSeconds?: number;
    signal?: AbortSignal;
    /** Also read its owner and executable (for deciding whether to trust it). */ owner?: boolean;
  } = {},
): Promise<ProcessInfo | undefined> {
  const comm = await readOptional(host, `/proc/${pid}/comm`, options.signal);
  if (comm === undefined) return undefined;
  const cmdline = await readOptional(host, `/proc/${pid}/cmdline`, options.signal);
  const info: ProcessInfo = { pid, comm: comm.trim(), argv: cmdline ? parseCmdline(cmdline) : [] };
  if (options.owner) await readOwner(host, info, options.signal);
  if (options.bootTimeSeconds !== undefined) {
    const stat = await readOptional(host, `/proc/${pid}/stat`, options.signal);
    const ticks = stat === undefined ? undefined : parseStartTicks(stat);
    if (ticks !== undefined) info.startTimeMs = (options.bootTimeSeconds + ticks / CLOCK_TICKS_PER_SECOND) * 1000;
  }
  return info;
}

/**
 * Whether `process` (as read earlier) is still the one running at its pid:
 * one read of /proc/<pid>/stat, its comm and start time unchanged (a pid
 * reused, or a process that exec'd another program, differs in one).
 */
export async function stillRunning(host: Host, process: ProcessInfo, bootTimeSeconds: number, signal?: AbortSignal): Promise<boolean> {
  if (process.startTimeMs === undefined) return false;
  const stat = await readOptional(host, `/proc/${process.pid}/stat`, signal);
  if (stat === undefined) return false;
  const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  const ticks = parseStartTicks(stat);
  return ticks !== undefined && comm === process.comm && (bootTimeSeconds + ticks / CLOCK_TICKS_PER_SECOND) * 1000 === process.startTimeMs;
}

/** Adds the uid (from /proc/<pid>/status) and the executable (/proc/<pid>/exe) to a process read. */
async function readOwner(host: Host, info: ProcessInfo, signal?: AbortSignal): Promise<void> {
  const status = await readOptional(host, `/proc/${info.pid}/status`, signal);
  const uid = status === undefined ? undefined : parseStatusUid(status);
  if (uid) info.uid = uid;
  try {
    const exe = await host.readLink(`/proc/${info.pid}/exe`);
    info.exe = exe.replace(/ \(deleted\)$/, "");
    if (exe.endsWith(" (deleted)")) info.exeDeleted = true;
  } catch {
    // unreadable without ptrace rights (a pod without CAP_SYS_PTRACE), or a fixture without the link
  }
}

/** Every process whose comm or argv[0] basename is `name`. */
export function findProcessesByName(host: Host, name: string, signal?: AbortSignal, options: { owner?: boolean } = {}): Promise<ProcessInfo[]> {
  return findProcessesNamed(host, [name], signal, options);
}

/** Every process whose comm or argv[0] basename is one of `names`, in one scan of /proc. */
export async function findProcessesNamed(
  host: Host,
  names: readonly string[],
  signal?: AbortSignal,
  options: { owner?: boolean } = {},
): Promise<ProcessInfo[]> {
  const boot = await bootTimeSeconds(host, signal);
  const comms = new Set(names.map((n) => n.slice(0, 15)));
  const found: ProcessInfo[] = [];
  for (const pid of await listPids(host)) {
    signal?.throwIfAborted();
    const comm = await readOptional(host, `/proc/${pid}/comm`, signal);
    if (comm === undefined) continue;
    if (!comms.has(comm.trim())) {
      // comm may be a wrapper's (e.g. "hyperkube"); argv[0] decides then.
      const cmdline = await readOptional(host, `/proc/${pid}/cmdline`, signal);
      const argv0 = cmdline ? parseCmdline(cmdline)[0] : undefined;
      if (!argv0 || !names.includes(argv0.split("/").at(-1) as string)) continue;
    }
    const info = await readProcess(host, pid, { ...(boot !== undefined ? { bootTimeSeconds: boot } : {}), ...(signal ? { signal } : {}), ...options });
    if (info) found.push(info);
  }
  return found;
}
