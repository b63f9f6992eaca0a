/** Runs the built agent (dist/node-doctor.mjs) with the project's pinned Node, as users do. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url).pathname;
export const BUNDLE = `${ROOT}dist/node-doctor.mjs`;
/** The pinned runtime from the `node` devDependency (npm puts it first on PATH for scripts). */
export const NODE = process.execPath;

export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first (npm test does)`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; bundle?: string } = {}): Promise<CliResult> {
  assertBuilt();
  const child = spawn(NODE, [options.bundle ?? BUNDLE, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collectExit(child, `node-doctor ${args.join(" ")}`, options.timeoutMs ?? 30_000);
}

/** A child's exit code, signal and output; killed and rejected, naming `what` with its output, when it outlives `timeoutMs`. */
export function collectExit(child: ChildProcess, what: string, timeoutMs: number): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} did not exit within ${timeoutMs} ms\nstdout: ${stdout.slice(0, 2000)}\nstderr: ${stderr.slice(0, 2000)}`));
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts `node-doctor run`; resolves once its first diagnosis is printed, with the address it serves on. */
export function startAgentProcess(
  args: string[],
  env: Record<string, string> = {},
  /** V8 flags, e.g. the agent's own (scripts/node-flags.mjs) where memory is measured. */
  nodeFlags: readonly string[] = [],
): Promise<{ child: ChildProcess; address: string; output: () => string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...nodeFlags, BUNDLE, "run", ...args], { env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the agent printed no diagnosis within 20 s:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = /serving on (http:\/\/[^\s]+)/.exec(out);
      if (match && /Summary:/.test(out)) {
        clearTimeout(timer);
        resolve({ child, address: match[1] as string, output: () => out });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent exited with ${code} before serving:\n${out}`));
    });
  });
}
