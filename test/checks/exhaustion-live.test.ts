/**
 * The exhaustion check on this machine's kernel (tests run as root):
 * - a pod-like cgroup with a small pids.max and a fork storm inside it;
 * - a network namespace whose conntrack table fills: nf_conntrack_max is
 *   global (read-only inside a namespace), so it is lowered for the test and
 *   restored, and the check runs inside the namespace with a pid namespace of
 *   its own (pid 1 there shares its network namespace: the "host" it sees);
 * - the same namespace read by a process whose pid 1 is elsewhere: unknown.
 * Everything the tests change is restored in after() and by an exit handler,
 * should a test die first.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createExhaustionCheck, exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import type { Finding } from "../../src/types.js";
import { NODE } from "../support/cli.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { requireTool } from "../support/tools.js";

const PATH = `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin`;
const REPO = new URL("../../", import.meta.url).pathname;
const RUNNER = new URL("../support/exhaustion-runner.ts", import.meta.url).pathname;
const cleanups: Array<() => void> = [];
function cleanupAll(): void {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {
      // best effort: the next one still runs
    }
  }
}
process.once("exit", cleanupAll);
after(cleanupAll);

function byReason(findings: readonly Finding[], reason: string): Finding {
  const found = findings.find((f) => f.reason === reason);
  assert.ok(found, `${reason} in ${findings.map((f) => `${f.reason}/${f.severity}: ${f.message}`).join("\n")}`);
  return found;
}

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

  describe("conntrack in a network namespace of the test's", () => {
    const ns = `nd-ct-${process.pid}`;
    const maxPath = "/proc/sys/net/netfilter/nf_conntrack_max";

    function setUp(): void {
      for (const tool of ["ip", "nft", "unshare"]) requireTool(tool);
      if (!existsSync(maxPath)) execFileSync(requireTool("modprobe"), ["nf_conntrack"], { env: { PATH }, stdio: "pipe" });
      assert.ok(existsSync(maxPath), "nf_conntrack is not loaded and modprobe nf_conntrack did not load it");
      if (existsSync(`/run/netns/${ns}`)) return;
      execFileSync("ip", ["netns", "add", ns], { env: { PATH } });
      cleanups.push(() => execFileSync("ip", ["netns", "del", ns], { env: { PATH }, stdio: "ignore" }));
      execFileSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"], { env: { PATH } });
      // conntrack tracks a namespace's packets once a rule there needs it.
      execFileSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
        env: { PATH },
        input: "table ip nd_ct {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    ct state new counter\n  }\n}\n",
      });
    }

    /** The runner inside the namespace; with its own pid namespace (and /proc), pid 1 shares its network namespace. */
    function runInNamespace(args: string[], ownPidNamespace: boolean): Promise<Array<{ look: number; findings: Finding[] }>> {
      const inner = ownPidNamespace ? ["unshare", "--pid", "--fork", "--mount-proc"] : [];
      return new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", ns, ...inner, NODE, "--import", "tsx", RUNNER, ...args], {
          cwd: REPO,
          env: { PATH },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          if (code !== 0) return reject(new Error(`the runner in ${ns} exited with ${code}: ${err}`));
          resolve(
            out
              .split("\n")
              .filter(Boolean)
              .map((l) => JSON.parse(l) as { look: number; findings: Finding[] }),
          );
        });
      });
    }

    it("filled past a lowered nf_conntrack_max (restored after): counted full, the drops between two looks critical", async () => {
      setUp();
      const original = (await readFile(maxPath, "utf8")).trim();
      cleanups.push(() => writeFileSync(maxPath, original));
      await writeFile(maxPath, "64");
      let looks: Array<{ look: number; findings: Finding[] }>;
      try {
        looks = await runInNamespace(["--fill", "80", "--settle-ms", "1500"], true);
      } finally {
        writeFileSync(maxPath, original);
      }
      assert.equal(readFileSync(maxPath, "utf8").trim(), original, "nf_conntrack_max restored");
      const [first, second] = looks;
      assert.ok(first && second);
      assert.deepEqual(
        first.findings.filter((f) => f.reason.startsWith("Conntrack")).map((f) => f.reason),
        [],
        "an empty table at the first look",
      );
      const full = byReason(second.findings, "ConntrackTableFull");
      assert.equal(full.severity, "critical");
      assert.match(full.message, /holds 64 of 64 entries \(100\.0%, net\.netfilter\.nf_conntrack_max\)/);
      assert.match(full.remedy ?? "", /sysctl -w net\.netfilter\.nf_conntrack_max=128/);
      const dropping = byReason(second.findings, "ConntrackDropping");
      assert.equal(dropping.severity, "critical");
      assert.match(dropping.message, /dropped \d+\/min packets over the last \d+ s because the conntrack table had no room/);
      assert.ok((dropping.evidence as { drop: number }).drop > 0);
    });

    it("read from the namespace by a process whose pid 1 is in another: conntrack unknown, never ok", async () => {
      setUp();
      const looks = await runInNamespace(["--settle-ms", "0"], false);
      const unknown = byReason(looks[0]?.findings ?? [], "NotHostNetworkNamespace");
      assert.equal(unknown.severity, "unknown");
      assert.match(unknown.message, /(is not the host's|is not pid 1's)/);
      assert.ok(!(looks[0]?.findings ?? []).some((f) => f.reason === "ResourcesSufficient"));
    });
  });
});
