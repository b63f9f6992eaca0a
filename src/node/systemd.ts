/**
 * A systemd unit on the node: its unit file and enablement (read from the
 * unit tree under the host root), and its live state from systemd over the
 * host's system bus when that socket is mounted. The command line a unit
 * starts is unit-file.ts's.
 */
import { posix } from "node:path";
import type { Host } from "../types.js";
import { listIfPresent, present, throwIfOwnFailure } from "./could-not-look.js";
import { UNIT_DIRS } from "./unit-file.js";
import { DbusConnection, DbusConnectionError, DbusError, type DbusValue, type MethodArg } from "../wire/dbus.js";

/** Where the host's system bus listens; mounted read-only into the pod by the chart. */
export const DEFAULT_SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket";

export interface UnitFiles {
  unit: string;
  /** Node path of the unit file that systemd would load, if any. */
  unitFile?: string;
  /** Linked to /dev/null (or an empty file): `systemctl mask`. */
  masked: boolean;
  /** Targets whose .wants/ or .requires/ directory links the unit, e.g. "multi-user.target". */
  wantedBy: string[];
  /** Drop-in directories (<dir>/<unit>.d) that exist, e.g. kubeadm's 10-kubeadm.conf beside /etc's copy of the tree. */
  dropInDirs: string[];
}

async function isMaskLink(host: Host, nodePath: string): Promise<boolean> {
  try {
    const st = await host.lstat(nodePath);
    if (st.kind === "symlink") return (await host.readLink(nodePath)) === "/dev/null";
    return st.kind === "file" && st.size === 0;
  } catch (error) {
    throwIfOwnFailure(error, nodePath);
    return false;
  }
}

/** Reads the unit tree: which file defines the unit, whether it is masked, and which targets want it. */
export async function readUnitFiles(host: Host, unit: string, signal?: AbortSignal): Promise<UnitFiles> {
  const result: UnitFiles = { unit, masked: false, wantedBy: [], dropInDirs: [] };
  for (const dir of UNIT_DIRS) {
    signal?.throwIfAborted();
    const path = posix.join(dir, unit);
    if (result.unitFile === undefined) {
      if (await isMaskLink(host, path)) {
        result.masked = true;
        result.unitFile = path;
      } else if (await present(host, path)) result.unitFile = path;
    }
    if (await present(host, `${path}.d`)) result.dropInDirs.push(`${path}.d`);
    // Out of descriptors is "could not look", never "no unit, so disabled".
    const entries = await listIfPresent(host, dir);
    for (const entry of entries) {
      const target = /^(.+)\.(wants|requires)$/.exec(entry)?.[1];
      if (!target) continue;
      // lstat: the link itself says "enabled", even when its target is absent in a fixture or copy.
      if ((await present(host, posix.join(dir, entry, unit))) && !result.wantedBy.includes(target)) result.wantedBy.push(target);
    }
  }
  return result;
}

/** What systemd says about a unit (org.freedesktop.systemd1.Unit and .Service properties). */
export interface UnitState {
  loaded: boolean;
  /** "loaded", "not-found", "masked", "error" … */
  loadState?: string;
  /** "active", "inactive", "failed", "activating", "deactivating", "reloading". */
  activeState: string;
  /** "running", "dead", "auto-restart", "exited" … */
  subState?: string;
  /** "enabled", "disabled", "masked", "static" … */
  unitFileState?: string;
  /** The service's last result: "success", "exit-code", "signal", "core-dump", "timeout" … */
  result?: string;
  /** How many times systemd restarted the service (Restart=). */
  nRestarts?: number;
  mainPid?: number;
  execMainStatus?: number;
  /** Wall-clock ms of the last entry into the active / inactive state; 0 or absent when never. */
  activeEnterTimestampMs?: number;
  inactiveEnterTimestampMs?: number;
}

function str(props: Record<string, DbusValue>, key: string): string | undefined {
  const v = props[key];
  return typeof v === "string" ? v : undefined;
}

function num(props: Record<string, DbusValue>, key: string): number | undefined {
  const v = props[key];
  return typeof v === "number" ? v : undefined;
}

function usToMs(us: number | undefined): number | undefined {
  return us === undefined || us === 0 ? undefined : Math.floor(us / 1000);
}

function asDict(value: DbusValue | undefined, what: string): Record<string, DbusValue> {
  if (value !== undefined && typeof value === "object" && !Array.isArray(value)) return value;
  throw new DbusConnectionError(`${what}: expected a{sv}, got ${Array.isArray(value) ? "an array" : typeof value}`);
}

/** Converts GetAll replies of the Unit and Service interfaces; validates types at this edge. */
export function unitStateFromProperties(unitProps: Record<string, DbusValue>, serviceProps: Record<string, DbusValue>): UnitState {
  const activeState = str(unitProps, "ActiveState");
  if (activeState === undefined) throw new DbusConnectionError("systemd's Unit properties lack ActiveState");
  const state: UnitState = { loaded: true, activeState };
  const set = <K extends keyof UnitState>(key: K, value: UnitState[K] | undefined) => {
    if (value !== undefined) state[key] = value;
  };
  set("loadState", str(unitProps, "LoadState"));
  set("subState", str(unitProps, "SubState"));
  set("unitFileState", str(unitProps, "UnitFileState"));
  set("activeEnterTimestampMs", usToMs(num(unitProps, "ActiveEnterTimestamp")));
  set("inactiveEnterTimestampMs", usToMs(num(unitProps, "InactiveEnterTimestamp")));
  set("result", str(serviceProps, "Result"));
  set("nRestarts", num(serviceProps, "NRestarts"));
  set("mainPid", num(serviceProps, "MainPID"));
  set("execMainStatus", num(serviceProps, "ExecMainStatus"));
  return state;
}

const SYSTEMD = "org.freedesktop.systemd1";

/**
 * systemd over the host's system bus. One connection, opened on first use,
 * kept open between runs and re-opened after any failure; each call has its
 * own deadline.
 */
export class SystemdBus {
  private connection?: DbusConnection;
  private connecting?: Promise<DbusConnection>;

  constructor(
    private readonly host: Host,
    private readonly socketNodePath = DEFAULT_SYSTEM_BUS_SOCKET,
    private readonly timeoutMs = 1000,
  ) {}

  /** Whether the socket is mounted at all; without it the caller uses the unit files alone. */
  async available(): Promise<boolean> {
    try {
      return (await this.host.stat(this.socketNodePath)).kind === "socket";
    } catch {
      return false;
    }
  }

  /** The unit's state (GetUnit, or LoadUnit when systemd has unloaded it); `loaded: false` when systemd refuses both. */
  async unitState(unit: string, signal?: AbortSignal): Promise<UnitState> {
    const options = { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) };
    const connection = await this.connect(signal);
    try {
      let unitPath: string;
      try {
        const [path] = await connection.call(
          { destination: SYSTEMD, path: "/org/freedesktop/systemd1", interface: `${SYSTEMD}.Manager`, member: "GetUnit", args: [unit] },
          options,
        );
        if (typeof path !== "string") throw new DbusConnectionError("GetUnit did not return an object path");
        unitPath = path;
      } catch (error) {
        if (!(error instanceof DbusError && error.errorName === `${SYSTEMD}.NoSuchUnit`)) throw error;
        // systemd unloads an inactive unit nothing references (a disabled kubelet after a reboot).
        // LoadUnit reads it from disk without starting anything, so its file state is known even
        // when the unit tree is not mounted into the pod; it answers LoadState "not-found" for no unit.
        try {
          const [path] = await connection.call(
            { destination: SYSTEMD, path: "/org/freedesktop/systemd1", interface: `${SYSTEMD}.Manager`, member: "LoadUnit", args: [unit] },
            options,
          );
          if (typeof path !== "string") throw new DbusConnectionError("LoadUnit did not return an object path");
          unitPath = path;
        } catch (loadError) {
          if (loadError instanceof DbusError) return { loaded: false, activeState: "inactive" };
          throw loadError;
        }
      }
      const getAll = (iface: string) =>
        connection.call({ destination: SYSTEMD, path: unitPath, interface: "org.freedesktop.DBus.Properties", member: "GetAll", args: [iface] }, options);
      // Only a service has the Service interface: systemd answers UnknownInterface for a mount's or a timer's.
      const [unitReply, serviceReply] = await Promise.all([
        getAll(`${SYSTEMD}.Unit`),
        unit.endsWith(".service") ? getAll(`${SYSTEMD}.Service`) : Promise.resolve<DbusValue[]>([{}]),
      ]);
      return unitStateFromProperties(asDict(unitReply[0], "Unit properties"), asDict(serviceReply[0], "Service properties"));
    } catch (error) {
      // A D-Bus error reply leaves the connection usable; anything else may not have.
      if (!(error instanceof DbusError)) this.drop();
      throw error;
    }
  }

  /**
   * Manager.RestartUnit(unit, "replace"): systemd queues the restart and
   * answers the job's path; the caller watches unitState for the outcome.
   */
  async restartUnit(unit: string, signal?: AbortSignal): Promise<string> {
    return this.job("RestartUnit", unit, signal);
  }

  /** Manager.StartUnit(unit, "replace"); answers the job's path. */
  async startUnit(unit: string, signal?: AbortSignal): Promise<string> {
    return this.job("StartUnit", unit, signal);
  }

  /**
   * `systemctl enable`: Manager.EnableUnitFiles([unit], runtime=false,
   * force=false), then Manager.Reload so systemd sees the new symlinks. Answers
   * the symlinks systemd made ("symlink /etc/…/kubelet.service → /usr/lib/…").
   */
  async enableUnit(unit: string, signal?: AbortSignal): Promise<string[]> {
    const options = { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) };
    const reply = await this.manager("EnableUnitFiles", [[unit], false, false], options);
    await this.manager("Reload", [], options);
    const changes = Array.isArray(reply[1]) ? reply[1] : [];
    return changes.flatMap((c) => (Array.isArray(c) && c.length === 3 ? [`${String(c[0])} ${String(c[1])} → ${String(c[2])}`] : []));
  }

  private async job(member: "RestartUnit" | "StartUnit", unit: string, signal?: AbortSignal): Promise<string> {
    const [path] = await this.manager(member, [unit, "replace"], { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    if (typeof path !== "string") throw new DbusConnectionError(`${member} did not return a job path`);
    return path;
  }

  private async manager(member: string, args: readonly MethodArg[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<DbusValue[]> {
    const connection = await this.connect(options.signal);
    try {
      return await connection.call({ destination: SYSTEMD, path: "/org/freedesktop/systemd1", interface: `${SYSTEMD}.Manager`, member, args }, options);
    } catch (error) {
      if (!(error instanceof DbusError)) this.drop();
      throw error;
    }
  }

  close(): void {
    this.drop();
  }

  private drop(): void {
    this.connection?.close();
    delete this.connection;
  }

  private async connect(signal?: AbortSignal): Promise<DbusConnection> {
    if (this.connection && !this.connection.closed) return this.connection;
    if (!this.connecting) {
      const local = this.host.local(this.socketNodePath);
      this.connecting = DbusConnection.connect(local, { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) }).finally(() => delete this.connecting);
    }
    this.connection = await this.connecting;
    return this.connection;
  }
}
