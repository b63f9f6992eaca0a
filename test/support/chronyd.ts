/**
 * A real NTP server for tests: Debian's chronyd serving its local clock on a
 * loopback port (`local stratum 8`, `-x` so it never touches the system
 * clock), optionally under faketime so that clock is off by a known amount.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../src/time/clock.js";
import { querySntp } from "../../src/wire/sntp.js";
import { requireTool } from "./tools.js";

export interface Chronyd {
  port: number;
  /** The faketime offset it serves, e.g. "+5s", "-1h"; undefined for the true time. */
  skew?: string;
  stop(): Promise<void>;
}

/** A UDP port that was free a moment ago. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts chronyd; with `skew` (libfaketime syntax: "+5s", "+0.5", "-1h") under faketime. Waits until it answers. */
export async function startChronyd(options: { skew?: string } = {}): Promise<Chronyd> {
  const chronyd = requireTool("chronyd");
  const faketime = options.skew !== undefined ? requireTool("faketime") : undefined;
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-chronyd-"));
  const port = await freeUdpPort();
  const conf = join(dir, "chrony.conf");
  await writeFile(
    conf,
    [
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
      "local stratum 8",
      "cmdport 0",
      `pidfile ${join(dir, "chronyd.pid")}`,
      `driftfile ${join(dir, "drift")}`,
      "",
    ].join("\n"),
  );
  const args = ["-x", "-d", "-f", conf];
  const child = faketime
    ? spawn(faketime, ["-f", options.skew as string, chronyd, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(chronyd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));

  const stop = async () => {
    // faketime runs chronyd as its child: stop chronyd by its pidfile, then the wrapper.
    const pid = Number((await readFile(join(dir, "chronyd.pid"), "utf8").catch(() => "")).trim());
    if (pid > 0) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited(child), new Promise((resolve) => setTimeout(resolve, 3000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`chronyd exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    try {
      await querySntp({ host: "127.0.0.1", port }, { clock: systemClock, timeoutMs: 300 });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`chronyd on 127.0.0.1:${port} did not answer within 10 s (${String(error)}): ${stderr.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { port, ...(options.skew !== undefined ? { skew: options.skew } : {}), stop };
}
