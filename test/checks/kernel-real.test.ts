/**
 * The kernel check on this machine's own kernel (tests run as root): a
 * memcg OOM in a cgroup with a small memory limit, a fork refused by
 * pids.max, and an ext4 error on a loop-mounted image with
 * errors=remount-ro (through /sys/fs/ext4/<dev>/trigger_fs_error), each read
 * back through /dev/kmsg by the check's kmsg source and named. journald does
 * not run on the test machine, so the journal is not fed by its kernel; the
 * kmsg source is the path under test here (the journal path has its own tests
 * on journal files written by systemd-journal-remote). Every cgroup, loop
 * device and mount is removed afterwards.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createKernelCheck, kernelSettings } from "../../src/checks/kernel/index.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import { systemClock } from "../../src/time/clock.js";
import type { Check, Finding } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { testJournalReader } from "../support/journal.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { requireTool } from "../support/tools.js";

/** The cgroup hierarchy holding a controller: cgroup v2's when it offers it, else the v1 mount of that controller. */
function controllerRoot(controller: "memory" | "pids"): { dir: string; v2: boolean } {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  for (const line of mounts) {
    const [left, right] = line.split(" - ");
    const fields = left?.split(" ") ?? [];
    const [fsType, , superOptions] = right?.split(" ") ?? [];
    const mountPoint = fields[4];
    if (!mountPoint) continue;
    if (fsType === "cgroup2" && readFileSync(join(mountPoint, "cgroup.controllers"), "utf8").split(/\s+/).includes(controller))
      return { dir: mountPoint, v2: true };
    if (fsType === "cgroup" && superOptions?.split(",").includes(controller)) return { dir: mountPoint, v2: false };
  }
  throw new Error(`no cgroup hierarchy offers the ${controller} controller on this machine: the kernel tests need cgroup v1 or v2 with ${controller}`);
}

/** Creates a cgroup path (each level), returning the leaf and every level made, deepest first, for cleanup. */
async function makeCgroup(root: string, relative: string): Promise<{ leaf: string; made: string[] }> {
  const made: string[] = [];
  let dir = root;
  for (const part of relative.split("/").filter(Boolean)) {
    dir = join(dir, part);
    if (!existsSync(dir)) {
      await mkdir(dir);
      made.unshift(dir);
    }
  }
  return { leaf: dir, made };
}

/** Runs `script` with sh in the cgroup `leaf` (it moves itself in first); returns its exit status. */
function runInCgroup(leaf: string, script: string): number | null {
  const result = spawnSync("sh", ["-c", `echo $$ > ${leaf}/cgroup.procs && ${script}`], { stdio: "pipe", timeout: 60_000 });
  return result.status ?? (result.signal ? 128 : null);
}

let check: Check;
let fixture: FixtureRoot;
const cleanups: Array<() => Promise<void> | void> = [];

async function runCheck(): Promise<Finding[]> {
  // Read until nothing is behind (the first poll reads the ring buffer from its start).
  let findings: Finding[] = [];
  for (let i = 0; i < 5; i++) findings = await check.run(checkContext("/", { timeoutMs: 20_000 }));
  return findings;
}

describe("kernel check on this machine's kernel, through /dev/kmsg", { timeout: 180_000 }, () => {
  before(async () => {
    assert.ok(existsSync("/dev/kmsg"), "/dev/kmsg is missing: the kernel tests read the kernel's messages from it");
    fixture = await fixtureRoot();
    check = createKernelCheck(kernelSettings.parse({ lookbackMinutes: 5, journal: { enabled: false }, kmsg: { enabled: true } }, "checks.kernel"), {
      kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock),
      journal: testJournalReader(fixture.root, systemClock),
    });
  });

  after(async () => {
    await check?.close?.();
    for (const cleanup of cleanups.reverse()) await cleanup();
    await fixture?.cleanup();
  });

  it("a process past its cgroup's memory limit: ContainerOOMKilled, a warning naming the pod UID and container from task_memcg", async () => {
    const { dir, v2 } = controllerRoot("memory");
    const pod = randomUUID();
    const container = randomBytes(32).toString("hex");
    // kubelet's cgroupfs layout, so task_memcg names a pod and a container as on a node.
    const { leaf, made } = await makeCgroup(dir, `node-doctor-test-${process.pid}/kubepods/burstable/pod${pod}/${container}`);
    cleanups.push(async () => {
      for (const level of made) await rmdir(level).catch(() => undefined);
    });
    await writeFile(join(leaf, v2 ? "memory.max" : "memory.limit_in_bytes"), String(16 * 1024 * 1024));
    if (v2) await writeFile(join(leaf, "memory.swap.max"), "0").catch(() => undefined);
    else await writeFile(join(leaf, "memory.memsw.limit_in_bytes"), String(16 * 1024 * 1024)).catch(() => undefined);
    const status = runInCgroup(leaf, `exec ${process.execPath} -e "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"`);
    assert.notEqual(status, 0, "the allocating process was not killed");

    const findings = await runCheck();
    const oom = findings.find((f) => f.reason === "ContainerOOMKilled");
    assert.ok(oom, `no ContainerOOMKilled among ${findings.map((f) => f.reason).join(", ")}`);
    assert.equal(oom.severity, "warning");
    assert.equal(oom.condition, "KernelUnhealthy");
    assert.equal(oom.evidence?.["podUid"], pod);
    assert.equal(oom.evidence?.["containerId"], container);
    assert.match(oom.message, new RegExp(`in pod ${pod} container ${container.slice(0, 13)}`));
    assert.match(oom.remedy ?? "", /pod's limit, not the node/);
    const read = findings.find((f) => f.reason === "KernelMessagesRead");
    assert.match(read?.message ?? "", /from \/dev\/kmsg/);
    assert.ok(!findings.some((f) => f.reason === "NodeOutOfMemory"), "a container's own limit is not the node out of memory");
  });

  it("a fork refused by pids.max: ForkRejectedByPidsLimit naming the cgroup", async () => {
    const { dir } = controllerRoot("pids");
    const name = `node-doctor-test-${process.pid}-pids-${randomBytes(4).toString("hex")}`;
    const { leaf, made } = await makeCgroup(dir, name);
    cleanups.push(async () => {
      for (const level of made) await rmdir(level).catch(() => undefined);
    });
    await writeFile(join(leaf, "pids.max"), "3");
    runInCgroup(leaf, "for i in 1 2 3 4 5 6; do sleep 1 & done; wait");
    const findings = await runCheck();
    const fork = findings.find((f) => f.reason === "ForkRejectedByPidsLimit" && f.message.includes(name));
    assert.ok(fork, `no ForkRejectedByPidsLimit for ${name} among ${findings.map((f) => `${f.reason}: ${f.message}`).join("\n")}`);
    // Not a pod's cgroup: every process under it is refused.
    assert.equal(fork.severity, "critical");
    assert.match(fork.remedy ?? "", /pids\.current/);
  });

  it("an ext4 error on a loop-mounted image with errors=remount-ro: Ext4Error, Ext4JournalAborted and FilesystemRemountedReadOnly, and the mount says emergency_ro", async () => {
    requireTool("losetup");
    requireTool("mkfs.ext4");
    const loop = await fixture.mountExt4Loop("/var/lib/kubelet", { sizeMiB: 32, options: "errors=remount-ro" });
    const marker = `node-doctor test ${randomBytes(4).toString("hex")}`;
    await writeFile(`/sys/fs/ext4/${loop.device}/trigger_fs_error`, marker);
    const findings = await runCheck();
    const error = findings.find((f) => f.reason === "Ext4Error");
    assert.ok(error, `no Ext4Error among ${findings.map((f) => f.reason).join(", ")}`);
    assert.equal(error.condition, "FilesystemErrors");
    assert.equal(error.severity, "critical");
    assert.match(error.message, new RegExp(`on ${loop.device} in trigger_test_error: comm \\S+: ${marker}`));
    assert.match(error.remedy ?? "", new RegExp(`fsck\\.ext4 -f /dev/${loop.device}`));
    assert.ok(findings.some((f) => f.reason === "Ext4JournalAborted" && f.message.includes(loop.device)));
    assert.ok(findings.some((f) => f.reason === "FilesystemRemountedReadOnly" && f.message.includes(loop.device)));
    // Kernels >= 6.6 keep `rw` on the mount and mark the superblock emergency_ro.
    const line = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .find((l) => l.includes(` ${loop.dir} `));
    assert.match(line ?? "", / - ext4 \S+ \S*(?:emergency_ro|\bro\b)/, line);
    assert.equal(readFileSync(`/sys/fs/ext4/${loop.device}/errors_count`, "utf8").trim(), "1");
  });

  it("has left no cgroup behind once cleaned up", async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    for (const controller of ["memory", "pids"] as const) {
      const { dir } = controllerRoot(controller);
      const left = execFileSync("sh", ["-c", `ls -d ${dir}/node-doctor-test-${process.pid}* 2>/dev/null || true`], { encoding: "utf8" }).trim();
      assert.equal(left, "", `left behind: ${left}`);
    }
  });
});
