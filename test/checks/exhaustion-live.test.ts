/**
 * The exhaustion check on this machine's kernel (tests run as root): a
 * pod-like cgroup with a small pids.max and a fork storm inside it. (The
 * conntrack table filled in a namespace: test/exclusive/conntrack.exclusive.ts.)
 * Everything the tests change is restored in after() and by an exit handler,
 * should a test die first.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createExhaustionCheck, exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { byReason, undoOnExit } from "../support/live-kernel.js";

const PATH = `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin`;
const cleanups = undoOnExit();

/** The pids controller on this machine: cgroup v2 when it has pids enabled, else cgroup v1's pids hierarchy. */
function pidsHierarchy(): { version: "v1" | "v2"; mount: string } {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers") && readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("pids")) {
    return { version: "v2", mount: "/sys/fs/cgroup" };
  }
  if (existsSync("/sys/fs/cgroup/pids/tasks")) return { version: "v1", mount: "/sys/fs/cgroup/pids" };
  throw new Error("this machine has no pids cgroup controller (neither cgroup v2 with pids nor /sys/fs/cgroup/pids): the fork-storm test needs one");
}

function killAll(dir: string): void {
  for (let i = 0; i < 50; i++) {
    const pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
    execFileSync("sleep", ["0.05"]);
  }
}

describe("exhaustion check on this machine's kernel", () => {
  it("a fork storm in a pod cgroup with pids.max 16: the pod is named at its limit, with the forks the kernel refused since the last look", async () => {
    const { version, mount } = pidsHierarchy();
    const parent = `nd-exh-${process.pid}`;
    const uid = randomUUID();
    const pod = join(mount, parent, "burstable", `pod${uid}`);
    const made: string[] = [];
    cleanups.push(() => {
      for (const dir of [...made].reverse()) {
        if (!existsSync(dir)) continue;
        killAll(dir);
        rmdirSync(dir);
      }
    });
    for (const dir of [join(mount, parent), join(mount, parent, "burstable"), pod]) {
      await mkdir(dir);
      made.push(dir);
      // cgroup v2: a child has a pids controller only when its parent hands it down.
      if (version === "v2" && dir !== pod) await writeFile(join(dir, "cgroup.subtree_control"), "+pids");
    }
    await writeFile(join(pod, "pids.max"), "16");

    // The storm: a shell joins the pod's cgroup and forks until the kernel refuses; dash exits at the first EAGAIN, its 15 sleeps stay.
    const storm = () =>
      new Promise<void>((resolve) => {
        const child = spawn("sh", ["-c", `echo $$ > ${join(pod, "cgroup.procs")}; while :; do sleep 60 & done`], { stdio: "ignore", env: { PATH } });
        child.on("close", () => resolve());
      });
    await storm();
    // The pod cgroups are read at the first look and every limitsRefreshSeconds after: the clock moves past it between the looks.
    const clock = new FakeClock();
    const check = createExhaustionCheck(exhaustionSettings.parse({ podCgroupParents: [parent], limitsRefreshSeconds: 30 }, "checks.exhaustion"), {
      kubelet: new KubeletLocator(new RootedHost("/"), clock),
    });
    const first = byReason(await check.run(checkContext("/", { clock })), "PodPidsLimitReached");
    assert.equal(first.severity, "warning");
    assert.match(
      first.message,
      new RegExp(`Pod ${uid} \\(cgroup /${parent}/burstable/pod${uid}\\) holds 1[56] of its 16 tasks \\(pids\\.max; \\d+ forks? refused since it was made\\)`),
    );
    assert.match(first.remedy ?? "", new RegExp(`crictl pods --label io\\.kubernetes\\.pod\\.uid=${uid}`));

    await storm(); // more refused forks between the looks
    await clock.advance(31_000);
    const second = byReason(await check.run(checkContext("/", { clock })), "PodPidsLimitReached");
    assert.match(second.message, /the kernel refused \d+ forks? there since the last look/);
    assert.ok(Number((second.evidence as { refused: number }).refused) >= 1);
    assert.ok(Number(readFileSync(join(pod, "pids.current"), "utf8").trim()) >= 15, "the storm's sleeps fill the pod");
  });
});
