/**
 * Runs short-lived programs on an interval: NPD custom plugins, the one
 * place node-doctor spawns processes periodically (docs/security.md).
 *
 * - No shell of its own: the program is executed directly with an argument
 *   list. Its first bytes must be a `#!` line or an ELF header, because
 *   libuv's execvp hands anything else to /bin/sh (measured here: a script
 *   without `#!` ran under sh); so a shell runs only when the script's own
 *   `#!` line asks for one.
 * - Each run is its own process group (setsid); at the deadline, at shutdown,
 *   and after every run, the whole group gets SIGKILL, so children a script
 *   left behind (`sleep 600 &`) die with it.
 * - stdout and stderr are read up to a cap each and drained past it, so a
 *   chatty plugin neither blocks on a full pipe nor grows the agent's memory.
 * - At most `maxConcurrent` programs run at once; the others wait their turn
 *   (bounded by the caller's signal).
 * - The environment is what the caller passes, nothing inherited.
 */
import { spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { open } from "node:fs/promises";
import type { Clock } from "../types.js";
import { deadline } from "../time/deadline.js";
import { errorText } from "../text/format.js";

export interface RunRequest {
  /** Absolute path of the program, in the agent's own filesystem. */
  path: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Bytes of stdout kept; the rest is read and dropped. */
  maxOutputBytes: number;
  clock: Clock;
  /** Kills a running program (the check's own deadline, shutdown) and ends the wait for a slot. */
  signal: AbortSignal;
  /** Ends the wait for a slot instead of `signal` (derived from it, sooner: a full queue is reported as one). */
  waitSignal?: AbortSignal;
  /** Called once the process exists (for the caller's count of what it started). */
  onSpawn?: () => void;
}

interface Output {
  /** What was kept, as UTF-8 (a multi-byte character cut at the cap is dropped whole). */
  text: string;
  /** Bytes the program wrote in all. */
  bytes: number;
  cut: boolean;
}

export type RunResult =
  | { kind: "exited"; exitCode: number; stdout: Output; stderr: Output; elapsedMs: number }
  /** Ended by a signal nobody here sent (it crashed, or something else killed it). */
  | { kind: "signalled"; signal: string; stdout: Output; stderr: Output; elapsedMs: number }
  /** Still running at its deadline: its process group was killed. */
  | { kind: "timedOut"; stdout: Output; stderr: Output; elapsedMs: number }
  /** Killed because the caller's signal aborted (shutdown, the check's own timeout). */
  | { kind: "aborted"; reason: string }
  | { kind: "notStarted"; problem: string }
  /** No slot freed before the caller's signal aborted. */
  | { kind: "queued"; running: number; waitedMs: number };

/** What stderr keeps, for the log. */
const STDERR_BYTES = 4096;

function problemOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES") return "is not executable (permission denied)";
  if (code === "EISDIR") return "is a directory";
  if (code === "ENOTFILE") return "is not a regular file (a FIFO, socket or device): node-doctor runs only a program file";
  return errorText(error);
}

/**
 * The first bytes of the program file. O_NONBLOCK, then a regular file only:
 * a plain open of a FIFO waits for a writer in one of libuv's four threads,
 * forever, and every later run would take another until no check could read
 * a file.
 */
async function headOf(path: string): Promise<Buffer> {
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!st.isFile()) throw Object.assign(new Error("is not a regular file"), { code: "ENOTFILE" });
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Why the file at `path` may not be executed directly, or undefined when it may. */
export async function executableProblem(path: string): Promise<string | undefined> {
  let head: Buffer;
  try {
    head = await headOf(path);
  } catch (error) {
    return problemOf(error);
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return undefined;
  if (head.subarray(0, 2).toString("latin1") !== "#!") {
    return "has no #! line and is not an ELF executable: node-doctor runs no shell on its own; start the script with #!/bin/sh (or the interpreter it needs)";
  }
  return undefined;
}

/** The interpreter a `#!` line names, for the error when it is missing. */
async function interpreterOf(path: string): Promise<string | undefined> {
  try {
    const line = (await headOf(path)).toString("utf8").split("\n")[0] ?? "";
    return line.startsWith("#!") ? line.slice(2).trim().split(/\s+/)[0] : undefined;
  } catch {
    return undefined;
  }
}

class Capture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;
  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.kept >= this.cap) return;
    const take = chunk.subarray(0, this.cap - this.kept);
    this.chunks.push(take);
    this.kept += take.length;
  }

  output(): Output {
    const raw = Buffer.concat(this.chunks);
    let text = raw.toString("utf8");
    // A character cut in two at the cap decodes as U+FFFD: drop it rather than print garbage.
    if (this.bytes > this.cap && text.endsWith("\ufffd")) text = text.slice(0, -1);
    return { text, bytes: this.bytes, cut: this.bytes > this.cap };
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone
  }
}

export class ProcessRunner {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Processes started since the agent started (each run is one, its own children aside). */
  spawned = 0;

  constructor(readonly maxConcurrent: number) {}

  async run(request: RunRequest): Promise<RunResult> {
    const waitStarted = request.clock.monotonic();
    if (!(await this.acquire(request.waitSignal ?? request.signal))) {
      return { kind: "queued", running: this.running, waitedMs: request.clock.monotonic() - waitStarted };
    }
    try {
      return await this.execute(request);
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener("abort", giveUp);
        this.running++;
        resolve(true);
      };
      const giveUp = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      };
      this.waiting.push(grant);
      signal.addEventListener("abort", giveUp, { once: true });
    });
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }

  private async execute(request: RunRequest): Promise<RunResult> {
    const refused = await executableProblem(request.path);
    if (refused) return { kind: "notStarted", problem: `${request.path} ${refused}` };
    const { clock } = request;
    const started = clock.monotonic();
    const limit = deadline(clock, request.timeoutMs, request.signal, request.path);
    const stdout = new Capture(request.maxOutputBytes);
    const stderr = new Capture(STDERR_BYTES);
    let pid: number | undefined;
    try {
      return await new Promise<RunResult>((resolve) => {
        let child;
        try {
          child = spawn(request.path, [...request.args], {
            env: { ...request.env },
            cwd: "/",
            detached: true, // setsid: its own process group, killed as one
            stdio: ["ignore", "pipe", "pipe"],
            shell: false,
          });
        } catch (error) {
          resolve({ kind: "notStarted", problem: `${request.path} ${problemOf(error)}` });
          return;
        }
        pid = child.pid;
        if (pid !== undefined) {
          this.spawned++;
          request.onSpawn?.();
        }
        child.stdout.on("data", (chunk: Buffer) => stdout.add(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.add(chunk));
        let failed: unknown;
        child.once("error", (error) => {
          failed = error;
          if (pid === undefined) {
            void interpreterOf(request.path).then((interpreter) => {
              const code = (error as NodeJS.ErrnoException).code;
              const problem =
                code === "ENOENT" && interpreter
                  ? `names the interpreter ${interpreter} in its #! line, which does not exist in node-doctor's container`
                  : problemOf(error);
              resolve({ kind: "notStarted", problem: `${request.path} ${problem}` });
            });
          }
        });
        const onDeadline = () => killGroup(pid);
        limit.signal.addEventListener("abort", onDeadline, { once: true });
        // "close": the program exited and every holder of its pipes closed them.
        child.once("close", (code: number | null, signalName: NodeJS.Signals | null) => {
          limit.signal.removeEventListener("abort", onDeadline);
          if (pid === undefined) return; // reported by "error"
          const elapsedMs = clock.monotonic() - started;
          const out = { stdout: stdout.output(), stderr: stderr.output(), elapsedMs };
          if (limit.signal.aborted) {
            const reason: unknown = limit.signal.reason;
            if (reason instanceof Error && reason.name === "TimeoutError") resolve({ kind: "timedOut", ...out });
            else resolve({ kind: "aborted", reason: errorText(reason) });
          } else if (code !== null) resolve({ kind: "exited", exitCode: code, ...out });
          else if (signalName !== null) resolve({ kind: "signalled", signal: signalName, ...out });
          else resolve({ kind: "notStarted", problem: `${request.path} ${problemOf(failed)}` });
        });
      });
    } finally {
      limit.clear();
      // Whatever it left behind in its group (a daemonised child) goes with it.
      killGroup(pid);
    }
  }
}
