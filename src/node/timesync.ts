/**
 * The node's time synchronisation service as its files show it: which daemon
 * runs (chronyd, ntpd, systemd-timesyncd, from /proc), the NTP servers it is
 * configured with (chrony.conf, ntp.conf, timesyncd.conf with their
 * includes and drop-ins), and timesyncd's own sync flag
 * (/run/systemd/timesync/synchronized, touched on each synchronisation), and,
 * when the host's system bus is mounted, timedated's NTPSynchronized (the
 * kernel's own sync flag, whichever service keeps it). Reads files and one
 * D-Bus property; never runs chronyc or timedatectl.
 */
import { DbusConnection, type DbusValue } from "../wire/dbus.js";
import { listPids, readProcess } from "./proc.js";
import type { Host } from "../types.js";
import { errorText } from "../text/format.js";

export type SyncService = "chronyd" | "ntpd" | "systemd-timesyncd";

/** /proc/<pid>/comm (15 characters at most) → service. */
const SERVICE_COMMS: Record<string, SyncService> = {
  chronyd: "chronyd",
  ntpd: "ntpd",
  "systemd-timesyn": "systemd-timesyncd",
};

export interface ConfiguredServer {
  host: string;
  port?: number;
  /** The node path of the file that names it. */
  file: string;
}

export interface TimesyncdState {
  synchronized: boolean;
  /** mtime of the synchronized flag: the last synchronisation. */
  lastSyncMs?: number;
  /** When the service started (from /proc), to say how long it has been unsynchronised. */
  serviceStartMs?: number;
}

export interface TimeSyncState {
  /** False when /proc could not be read (a copy of a node's files, a container without the host's /proc). */
  processesVisible: boolean;
  running: SyncService[];
  /** The service whose configuration named `servers`. */
  serversFrom?: SyncService;
  servers: ConfiguredServer[];
  timesyncd?: TimesyncdState;
  /** timedated's NTPSynchronized over the system bus, when asked and the bus socket is there. */
  timedated?: { synchronized: boolean } | { error: string };
  /** Configuration files that could not be read or parsed, with why (not fatal). */
  problems: string[];
}

const MAX_CONFIG_FILES = 64;

const CHRONY_CONFIGS = ["/etc/chrony/chrony.conf", "/etc/chrony.conf"];
const NTPD_CONFIGS = ["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"];
const TIMESYNCD_CONFIG = "/etc/systemd/timesyncd.conf";
const TIMESYNCD_DROPIN_DIRS = ["/usr/lib/systemd/timesyncd.conf.d", "/run/systemd/timesyncd.conf.d", "/etc/systemd/timesyncd.conf.d"];
export const TIMESYNCD_SYNCHRONIZED_FLAG = "/run/systemd/timesync/synchronized";
export const SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket";

function isLocalClockDriver(host: string): boolean {
  // ntpd's refclock pseudo-addresses (127.127.t.u) are drivers, not servers.
  return /^127\.127\.\d+\.\d+$/.test(host);
}

/**
 * chrony.conf and ntp.conf source lines: `server|pool|peer NAME [options]`
 * (chrony's `port N` option honoured), plus the include directives chrony
 * knows. Returns the servers and the files or directories to read next.
 */
export type NtpConfigItem = { server: ConfiguredServer } | { include: { pattern: string; suffix?: string } };

/**
 * chrony.conf and ntp.conf source lines: `server|pool|peer NAME [options]`
 * (chrony's `port N` option honoured), and the include directives chrony
 * knows, in file order (chrony reads an included file where it is named).
 */
export function parseNtpConfig(text: string, file: string): NtpConfigItem[] {
  const items: NtpConfigItem[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/[#;!%].*$/, "").trim();
    if (!line) continue;
    const [directive, ...args] = line.split(/\s+/);
    switch (directive?.toLowerCase()) {
      case "server":
      case "pool":
      case "peer": {
        const host = args[0];
        if (!host || isLocalClockDriver(host)) break;
        const portIndex = args.indexOf("port");
        const port = portIndex > 0 ? Number(args[portIndex + 1]) : undefined;
        items.push({ server: { host, ...(port !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? { port } : {}), file } });
        break;
      }
      case "include":
        for (const arg of args) items.push({ include: { pattern: arg } });
        break;
      case "confdir":
        for (const arg of args) items.push({ include: { pattern: arg, suffix: ".conf" } });
        break;
      case "sourcedir":
        for (const arg of args) items.push({ include: { pattern: arg, suffix: ".sources" } });
        break;
      default:
        break;
    }
  }
  return items;
}

/** timesyncd.conf's [Time] NTP= and FallbackNTP= (an empty assignment resets the list, as systemd does). */
export function parseTimesyncdConfig(text: string): { ntp?: string[]; fallback?: string[] } {
  let section = "";
  let ntp: string[] | undefined;
  let fallback: string[] | undefined;
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? "";
      continue;
    }
    if (section !== "Time") continue;
    const match = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const values = (match[2] ?? "").split(/\s+/).filter(Boolean);
    if (match[1] === "NTP") ntp = values.length ? [...(ntp ?? []), ...values] : [];
    if (match[1] === "FallbackNTP") fallback = values.length ? [...(fallback ?? []), ...values] : [];
  }
  return { ...(ntp ? { ntp } : {}), ...(fallback ? { fallback } : {}) };
}

/** Lists `dir` and keeps files ending in `suffix`, sorted (as chrony and systemd read them). */
async function filesIn(host: Host, dir: string, suffix: string): Promise<string[]> {
  try {
    return (await host.list(dir))
      .filter((f) => f.endsWith(suffix))
      .sort()
      .map((f) => `${dir.replace(/\/$/, "")}/${f}`);
  } catch {
    return []; // a missing drop-in directory is normal
  }
}

/** Expands chrony's `include` glob (only `*` in the last component, the form distributions use). */
async function expandInclude(host: Host, pattern: string, suffix?: string): Promise<string[]> {
  if (suffix) return filesIn(host, pattern, suffix);
  const slash = pattern.lastIndexOf("/");
  const dir = pattern.slice(0, slash) || "/";
  const base = pattern.slice(slash + 1);
  if (!base.includes("*")) return [pattern];
  const re = new RegExp(`^${base.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  try {
    return (await host.list(dir))
      .filter((f) => re.test(f))
      .sort()
      .map((f) => `${dir}/${f}`);
  } catch {
    return [];
  }
}

async function readNtpStyleServers(host: Host, roots: string[], problems: string[], signal?: AbortSignal): Promise<ConfiguredServer[] | undefined> {
  for (const root of roots) {
    if (!(await host.exists(root))) continue;
    const servers: ConfiguredServer[] = [];
    const seen = new Set<string>();
    const readFile = async (file: string, depth: number): Promise<void> => {
      if (seen.has(file) || seen.size >= MAX_CONFIG_FILES || depth > 4) return;
      seen.add(file);
      let text: string;
      try {
        text = await host.readText(file, { maxBytes: 256 * 1024, ...(signal ? { signal } : {}) });
      } catch (error) {
        if (file === root || !/does not exist/.test(errorText(error))) problems.push(errorText(error));
        return;
      }
      for (const item of parseNtpConfig(text, file)) {
        if ("server" in item) servers.push(item.server);
        else for (const included of await expandInclude(host, item.include.pattern, item.include.suffix)) await readFile(included, depth + 1);
      }
    };
    await readFile(root, 0);
    return servers;
  }
  return undefined;
}

async function readTimesyncdServers(host: Host, problems: string[], signal?: AbortSignal): Promise<ConfiguredServer[] | undefined> {
  const files = [TIMESYNCD_CONFIG];
  for (const dir of TIMESYNCD_DROPIN_DIRS) files.push(...(await filesIn(host, dir, ".conf")));
  let ntp: ConfiguredServer[] | undefined;
  let fallback: ConfiguredServer[] | undefined;
  let any = false;
  for (const file of files) {
    let text: string;
    try {
      text = await host.readText(file, { maxBytes: 64 * 1024, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (!/does not exist/.test(errorText(error))) problems.push(errorText(error));
      continue;
    }
    any = true;
    const parsed = parseTimesyncdConfig(text);
    if (parsed.ntp) ntp = parsed.ntp.map((h) => ({ host: h, file }));
    if (parsed.fallback) fallback = parsed.fallback.map((h) => ({ host: h, file }));
  }
  if (!any) return undefined;
  // timesyncd uses FallbackNTP= only when no NTP= server is known (the compiled-in default is not visible here).
  return ntp && ntp.length > 0 ? ntp : (fallback ?? []);
}

async function runningServices(host: Host, signal?: AbortSignal): Promise<{ visible: boolean; running: Map<SyncService, number> }> {
  const running = new Map<SyncService, number>();
  let pids: number[];
  try {
    pids = await listPids(host);
  } catch {
    return { visible: false, running };
  }
  // A real /proc always shows pid 1's comm; a copied tree may hold only /proc/1/mountinfo.
  if (!pids.includes(1) || !(await host.exists("/proc/1/comm"))) return { visible: false, running };
  for (const pid of pids) {
    signal?.throwIfAborted();
    let comm: string;
    try {
      comm = (await host.readText(`/proc/${pid}/comm`, { maxBytes: 64 })).trim();
    } catch {
      continue; // exited meanwhile
    }
    const service = SERVICE_COMMS[comm];
    if (service && !running.has(service)) running.set(service, pid);
  }
  return { visible: true, running };
}

async function readTimesyncdState(host: Host, pid: number | undefined, signal?: AbortSignal): Promise<TimesyncdState> {
  let serviceStartMs: number | undefined;
  if (pid !== undefined) {
    const stat = await host.readText("/proc/stat", { maxBytes: 1024 * 1024, ...(signal ? { signal } : {}) }).catch(() => undefined);
    const btime = stat ? /^btime (\d+)$/m.exec(stat) : null;
    const info = await readProcess(host, pid, { ...(btime ? { bootTimeSeconds: Number(btime[1]) } : {}), ...(signal ? { signal } : {}) });
    serviceStartMs = info?.startTimeMs;
  }
  try {
    const flag = await host.stat(TIMESYNCD_SYNCHRONIZED_FLAG);
    return { synchronized: true, lastSyncMs: flag.mtimeMs, ...(serviceStartMs !== undefined ? { serviceStartMs } : {}) };
  } catch {
    return { synchronized: false, ...(serviceStartMs !== undefined ? { serviceStartMs } : {}) };
  }
}

/** One property over the bus at `socketPath`, on a connection of its own (asked rarely: not worth keeping open). */
export async function getDbusProperty(
  socketPath: string,
  request: { destination: string; path: string; interface: string; property: string },
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<DbusValue | undefined> {
  const connection = await DbusConnection.connect(socketPath, options);
  try {
    const [value] = await connection.call(
      {
        destination: request.destination,
        path: request.path,
        interface: "org.freedesktop.DBus.Properties",
        member: "Get",
        args: [request.interface, request.property],
      },
      options,
    );
    return value;
  } finally {
    connection.close();
  }
}

export const NTP_SYNCHRONIZED = {
  destination: "org.freedesktop.timedate1",
  path: "/org/freedesktop/timedate1",
  interface: "org.freedesktop.timedate1",
  property: "NTPSynchronized",
} as const;

async function readTimedated(host: Host, timeoutMs: number, signal?: AbortSignal): Promise<TimeSyncState["timedated"]> {
  if (!(await host.exists(SYSTEM_BUS_SOCKET))) return undefined;
  try {
    const value = await getDbusProperty(host.local(SYSTEM_BUS_SOCKET), NTP_SYNCHRONIZED, { timeoutMs, ...(signal ? { signal } : {}) });
    return typeof value === "boolean" ? { synchronized: value } : { error: `timedated's NTPSynchronized is ${JSON.stringify(value)}, expected a boolean` };
  } catch (error) {
    signal?.throwIfAborted();
    return { error: `asking timedated for NTPSynchronized over ${SYSTEM_BUS_SOCKET}: ${errorText(error)}` };
  }
}

/** Reads everything above; config problems are collected, never thrown. `timedatedTimeoutMs` asks timedated too. */
export async function readTimeSync(host: Host, signal?: AbortSignal, options: { timedatedTimeoutMs?: number } = {}): Promise<TimeSyncState> {
  const problems: string[] = [];
  const { visible, running } = await runningServices(host, signal);
  const state: TimeSyncState = { processesVisible: visible, running: [...running.keys()], servers: [], problems };

  const readers: Record<SyncService, () => Promise<ConfiguredServer[] | undefined>> = {
    chronyd: () => readNtpStyleServers(host, CHRONY_CONFIGS, problems, signal),
    ntpd: () => readNtpStyleServers(host, NTPD_CONFIGS, problems, signal),
    "systemd-timesyncd": () => readTimesyncdServers(host, problems, signal),
  };
  // The running service's configuration first; without /proc, whichever configuration exists.
  const order: SyncService[] = visible ? state.running : ["chronyd", "ntpd", "systemd-timesyncd"];
  for (const service of order) {
    const servers = await readers[service]();
    if (servers && servers.length > 0) {
      state.servers = servers;
      state.serversFrom = service;
      break;
    }
  }

  if (running.has("systemd-timesyncd") || (!visible && (await host.exists("/run/systemd/timesync")))) {
    state.timesyncd = await readTimesyncdState(host, running.get("systemd-timesyncd"), signal);
  }
  if (options.timedatedTimeoutMs !== undefined) {
    const timedated = await readTimedated(host, options.timedatedTimeoutMs, signal);
    if (timedated) state.timedated = timedated;
  }
  return state;
}
