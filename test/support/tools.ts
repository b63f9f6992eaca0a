/**
 * The real programs tests run (promtool, prometheus, kubectl, containerd …).
 * A missing tool fails the test with a message saying how to get it — never a skip.
 */
import { execFile, execFileSync, spawn } from "node:child_process";

const PATH = `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin`;

export function requireTool(name: string): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { env: { PATH }, encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${name} is not installed: run scripts/test-setup.sh (npm test does) to install the Debian package that provides it`);
  }
}

/** Runs a tool (a name on PATH or an absolute path) to completion; `env` replaces the environment when given. */
export function runTool(
  name: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const path = requireTool(name);
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? { ...process.env, PATH } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} ${args.join(" ")} did not finish within ${options.timeoutMs ?? 30_000} ms`));
    }, options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A tool that exits before reading its input closes the pipe: that is its answer, not an error here.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Runs a tool without a stdin pipe (for tools that never read it: a pipe they close early would raise EPIPE). */
export function execTool(name: string, args: string[], options: { timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = requireTool(name);
  return new Promise((resolve) => {
    execFile(path, args, { timeout: options.timeoutMs ?? 30_000, env: { ...process.env, PATH } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
