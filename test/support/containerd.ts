/**
 * A real containerd (Debian's package, run as root) on a private socket,
 * root and state directory, with its CRI plugin serving runtime.v1. The
 * socket sits inside a fixture root at the node path the runtime check
 * expects (/run/containerd/containerd.sock), and the CRI plugin's CNI
 * directories are the fixture's /etc/cni/net.d and /opt/cni/bin, so the
 * runtime and node-doctor read the same files.
 *
 * Every process started here is stopped by stop(), killed at process exit or
 * on SIGINT/SIGTERM should a test fail before its cleanup runs, and killed by
 * a small watchdog should the test process itself be killed outright.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { requireTool } from "./tools.js";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

export interface Containerd {
  pid: number;
  /** Local path of the socket (inside the fixture root). */
  socket: string;
  /** containerd's own files: config, log, root, state. */
  dir: string;
  /** containerd's log so far, for assertion messages. */
  log(): Promise<string>;
  /** SIGKILL, as a crash: the socket file stays behind with nobody listening. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

/**
 * Kills `pid` once this test process is gone (even after SIGKILL, which runs
 * no handler); exits on its own when `pid` ends first.
 */
function watchdog(pid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -0 ${process.pid} 2>/dev/null || kill -9 ${pid} 2>/dev/null`;
  const dog = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  dog.unref();
  return dog;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * Starts containerd serving CRI on `options.socket` (a node path inside the root; containerd's own by
 * default) with the CNI directories at `options.cniConfDir` and `options.cniBinDir` (node paths).
 */
export async function startContainerd(root: string, options: { socket?: string; cniConfDir?: string; cniBinDir?: string } = {}): Promise<Containerd> {
  const binary = requireTool("containerd");
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-containerd-"));
  const socket = join(root, options.socket ?? CONTAINERD_SOCKET);
  await mkdir(dirname(socket), { recursive: true });
  const config = [
    "version = 2",
    `root = ${JSON.stringify(join(dir, "root"))}`,
    `state = ${JSON.stringify(join(dir, "state"))}`,
    "[grpc]",
    `  address = ${JSON.stringify(socket)}`,
    "[ttrpc]",
    `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
    "[debug]",
    '  address = ""',
    "[metrics]",
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${JSON.stringify(join(dir, "opt"))}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  stream_server_address = "127.0.0.1"',
    '[plugins."io.containerd.grpc.v1.cri".cni]',
    `  conf_dir = ${JSON.stringify(join(root, options.cniConfDir ?? "/etc/cni/net.d"))}`,
    `  bin_dir = ${JSON.stringify(join(root, options.cniBinDir ?? "/opt/cni/bin"))}`,
    "",
  ].join("\n");
  await writeFile(join(dir, "config.toml"), config);
  const logPath = join(dir, "containerd.log");
  const { openSync, closeSync } = await import("node:fs");
  const logFd = openSync(logPath, "w");
  const child = spawn(binary, ["--config", join(dir, "config.toml")], { stdio: ["ignore", logFd, logFd], detached: false });
  closeSync(logFd);
  running.add(child);
  const dog = child.pid !== undefined ? watchdog(child.pid) : undefined;
  const log = () => readFile(logPath, "utf8").catch(() => "");

  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited(child);
      clearTimeout(killer);
    }
    running.delete(child);
    dog?.kill("SIGKILL");
  };

  // Ready when the CRI service is serving: the socket exists and the log says so.
  const deadline = Date.now() + 20_000;
  while (!(existsSync(socket) && /containerd successfully booted/.test(await log()))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}) before serving; its log:\n${(await log()).slice(-2000)}`);
    }
    if (Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(`containerd did not serve ${socket} within 20 s; its log:\n${(await log()).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid as number,
    socket,
    dir,
    log,
    async crash() {
      await stop("SIGKILL");
    },
    async stop() {
      await stop("SIGTERM");
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
