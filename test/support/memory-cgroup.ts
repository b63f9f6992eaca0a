/**
 * A memory cgroup with a limit, as the chart's `resources.limits.memory`
 * gives the agent's container, for running one process under it and reading
 * its peak and OOM kills afterwards. cgroup v2 (memory.max, memory.peak,
 * memory.events) where the unified hierarchy has the memory controller;
 * otherwise cgroup v1's memory hierarchy (memory.limit_in_bytes,
 * memory.max_usage_in_bytes, memory.oom_control), which is what a
 * Firecracker guest with a hybrid layout offers. Tests run as root. The
 * group is made under the test's own, so it nests in whatever the runner
 * is confined to.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { collectExit } from "./cli.js";

export interface MemoryCgroup {
  version: 1 | 2;
  dir: string;
  /** Runs a program in the group; resolves with its exit code (or signal), its output and the group's figures. */
  run(file: string, args: readonly string[], options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<CgroupRun>;
  remove(): Promise<void>;
}

export interface CgroupRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The group's peak memory, bytes (page cache included, as the kernel counts it against the limit). */
  peakBytes: number;
  /** Processes the OOM killer killed in the group. */
  oomKills: number;
  elapsedMs: number;
}

function ownPath(controller: "memory" | ""): string | undefined {
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers === undefined || path === undefined) continue;
    if (controller === "" ? controllers === "" : controllers.split(",").includes(controller)) return path;
  }
  return undefined;
}

let serial = 0;

export async function memoryCgroup(limitBytes: number): Promise<MemoryCgroup> {
  const name = `node-doctor-test-${process.pid}-${++serial}`;
  const unified = ownPath("");
  const v2Root = existsSync("/sys/fs/cgroup/cgroup.controllers")
    ? "/sys/fs/cgroup"
    : existsSync("/sys/fs/cgroup/unified/cgroup.controllers")
      ? "/sys/fs/cgroup/unified"
      : undefined;
  const v2HasMemory = v2Root !== undefined && readFileSync(join(v2Root, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory");
  let version: 1 | 2;
  let dir: string;
  if (v2HasMemory && unified !== undefined) {
    version = 2;
    dir = join(v2Root as string, unified, name);
    await mkdir(dir);
    await writeFile(join(dir, "memory.max"), String(limitBytes));
    await writeFile(join(dir, "memory.swap.max"), "0").catch(() => undefined);
  } else {
    const v1 = ownPath("memory");
    if (v1 === undefined || !existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
      throw new Error(
        "no memory cgroup controller (neither cgroup v2's memory.max nor v1's /sys/fs/cgroup/memory): the memory tests need one, as the chart's limit does",
      );
    }
    version = 1;
    dir = join("/sys/fs/cgroup/memory", v1, name);
    await mkdir(dir);
    await writeFile(join(dir, "memory.limit_in_bytes"), String(limitBytes));
  }
  const figures = async (): Promise<{ peakBytes: number; oomKills: number }> => {
    if (version === 2) {
      const events = await readFile(join(dir, "memory.events"), "utf8");
      return { peakBytes: Number(await readFile(join(dir, "memory.peak"), "utf8")), oomKills: Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0) };
    }
    const control = await readFile(join(dir, "memory.oom_control"), "utf8");
    return { peakBytes: Number(await readFile(join(dir, "memory.max_usage_in_bytes"), "utf8")), oomKills: Number(/oom_kill (\d+)/.exec(control)?.[1] ?? 0) };
  };
  return {
    version,
    dir,
    async run(file, args, options = {}) {
      const started = performance.now();
      // The shell joins the group, then becomes the program: nothing runs outside it.
      const child = spawn("/bin/sh", ["-c", `echo $$ > "$0" && exec "$@"`, join(dir, "cgroup.procs"), file, ...args], {
        env: { PATH: process.env["PATH"] ?? "", ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const exit = await collectExit(child, `${file} ${args.join(" ").slice(0, 200)}`, options.timeoutMs ?? 30_000);
      const elapsedMs = performance.now() - started;
      return { ...exit, elapsedMs, ...(await figures()) };
    },
    async remove() {
      await rmdir(dir).catch(() => undefined);
    },
  };
}
