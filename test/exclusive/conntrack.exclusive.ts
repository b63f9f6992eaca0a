/**
 * The exhaustion check's conntrack figures on this machine's kernel (tests run
 * as root), in a network namespace of the test's whose table fills.
 * nf_conntrack_max is global — read-only inside a namespace, and the limit of
 * every namespace's table — so it is lowered for the test and restored. While
 * it is low, every other namespace that tracks connections drops new ones
 * too: this file runs in the exclusive lane (npm test runs test/exclusive/
 * after the concurrent lane, one file at a time), never beside other tests.
 * Also: the same namespace read by a process whose pid 1 is elsewhere: unknown.
 * Everything the tests change is restored in after() and by an exit handler,
 * should a test die first.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";
import type { Finding } from "../../src/types.js";
import { NODE } from "../support/cli.js";
import { requireTool } from "../support/tools.js";
import { byReason, undoOnExit } from "../support/live-kernel.js";

const PATH = `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin`;
const REPO = new URL("../../", import.meta.url).pathname;
const RUNNER = new URL("../support/exhaustion-runner.ts", import.meta.url).pathname;
const cleanups = undoOnExit();

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
