/**
 * A real dbus-daemon on a private socket with a stand-in for systemd on it
 * (fake-systemd.py, served by the reference libdbus through python3-dbus).
 * Tests put the socket where the node's system bus lives inside a fixture
 * root (/run/dbus/system_bus_socket), so the check finds it as on a node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { requireTool } from "./tools.js";

/** Debian's python, which has python3-dbus and python3-gi (scripts/test-setup.sh installs them). */
const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./fake-systemd.py", import.meta.url).pathname;

export interface UnitProperties {
  Unit?: Record<string, string | number>;
  Service?: Record<string, string | number>;
  /** systemd has unloaded it: GetUnit says NoSuchUnit, LoadUnit loads it. */
  unloaded?: boolean;
}

export interface SystemdState {
  units: Record<string, UnitProperties>;
  /** Methods that never answer. */
  hang?: Array<"GetUnit" | "LoadUnit" | "GetAll" | "RestartUnit" | "StartUnit" | "EnableUnitFiles">;
  /** Methods answered with AccessDenied, as polkit answers a caller it does not allow. */
  refuse?: Array<"RestartUnit" | "StartUnit" | "EnableUnitFiles">;
}

export interface FakeSystemd {
  socketPath: string;
  setState(state: SystemdState): Promise<void>;
  /** systemd's state as the stand-in left it (a restart makes the unit active). */
  state(): Promise<SystemdState>;
  /** The Manager's write calls so far, in order. */
  calls(): Promise<Array<{ method: string; args: unknown[] }>>;
  /** Stops systemd's stand-in and the bus (the socket goes away). */
  stopBus(): Promise<void>;
  /** Starts both again on the same socket. */
  startBus(): Promise<void>;
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, what: string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${out}${err}`)), timeoutMs);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${err.trim()}`));
    });
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Starts a bus at `socketPath` with fake systemd serving `state`. */
export async function startFakeSystemd(socketPath: string, state: SystemdState): Promise<FakeSystemd> {
  const daemon = requireTool("dbus-daemon");
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/test-setup.sh (installs python3-dbus and python3-gi)`);
  await mkdir(dirname(socketPath), { recursive: true });
  const stateDir = await mkdtemp(join(tmpdir(), "node-doctor-systemd-"));
  const stateFile = join(stateDir, "state.json");
  await writeFile(stateFile, JSON.stringify(state));
  let bus: ChildProcess | undefined;
  let systemd: ChildProcess | undefined;

  async function startBus(): Promise<void> {
    bus = spawn(daemon, ["--session", `--address=unix:path=${socketPath}`, "--nofork", "--print-address"], { stdio: ["ignore", "pipe", "pipe"] });
    await waitForLine(bus, "dbus-daemon", /unix:path=/);
    systemd = spawn(PYTHON, [SCRIPT, `unix:path=${socketPath}`, stateFile], { stdio: ["ignore", "pipe", "pipe"] });
    await waitForLine(systemd, "fake systemd (python3-dbus)", /ready/);
  }

  async function stopBus(): Promise<void> {
    await stopChild(systemd);
    await stopChild(bus);
  }

  await startBus();
  return {
    socketPath,
    setState: (next) => writeFile(stateFile, JSON.stringify(next)),
    state: async () => JSON.parse(await readFile(stateFile, "utf8")) as SystemdState,
    async calls() {
      const text = await readFile(`${stateFile}.calls`, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { method: string; args: unknown[] });
    },
    stopBus,
    startBus,
    async stop() {
      await stopBus();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Microseconds since the epoch, as systemd's timestamps are. */
export function usec(iso: string): number {
  return Date.parse(iso) * 1000;
}
