/**
 * A private system bus with the real systemd-timedated on it, its socket at
 * <root>/run/dbus/system_bus_socket so a fixture host root sees it where a
 * node has it. timedated answers NTPSynchronized from the kernel (adjtimex),
 * as on a node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getDbusProperty, NTP_SYNCHRONIZED } from "../../src/node/timesync.js";
import { requireTool, runTool } from "./tools.js";

const TIMEDATED_PATHS = ["/lib/systemd/systemd-timedated", "/usr/lib/systemd/systemd-timedated"];

export interface Timedated {
  socket: string;
  /** What systemd's own busctl reads, to compare our client with. */
  busctlNtpSynchronized(): Promise<boolean>;
  stop(): Promise<void>;
}

async function firstExisting(paths: string[]): Promise<string> {
  const { access } = await import("node:fs/promises");
  for (const p of paths) {
    try {
      await access(p);
      return p;
    } catch {
      // try the next
    }
  }
  throw new Error(`systemd-timedated is not installed (looked in ${paths.join(", ")}): install the Debian package systemd`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export async function startTimedated(root: string): Promise<Timedated> {
  const daemon = requireTool("dbus-daemon");
  requireTool("busctl");
  const timedatedPath = await firstExisting(TIMEDATED_PATHS);
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-bus-"));
  await mkdir(join(root, "run/dbus"), { recursive: true });
  const socket = join(root, "run/dbus/system_bus_socket");
  const config = join(dir, "bus.conf");
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow user="*"/><allow own="*"/><allow send_type="method_call"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
</busconfig>
`,
  );
  const bus = spawn(daemon, ["--config-file", config, "--nofork", "--print-address"], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("dbus-daemon did not start within 5 s")), 5000);
    bus.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
    bus.once("exit", (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  const timedated = spawn(timedatedPath, [], { stdio: "ignore", env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}` } });
  const stop = async () => {
    await stopChild(timedated);
    await stopChild(bus);
    await rm(dir, { recursive: true, force: true });
    await rm(socket, { force: true });
  };
  const request = NTP_SYNCHRONIZED;
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await getDbusProperty(socket, request, { timeoutMs: 500 });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`systemd-timedated did not answer on ${socket} within 5 s: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    socket,
    async busctlNtpSynchronized() {
      const result = await runTool(
        "busctl",
        [`--address=unix:path=${socket}`, "get-property", request.destination, request.path, request.interface, request.property],
        { timeoutMs: 5000 },
      );
      if (result.code !== 0) throw new Error(`busctl failed: ${result.stderr}`);
      return result.stdout.trim() === "b true";
    },
    stop,
  };
}
