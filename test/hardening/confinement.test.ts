/**
 * Nothing outside the host root is read. A node copy examined with
 * `check --host-root /mnt/node-copy` is data someone else controls: its
 * proc/swaps, proc/<pid>/… and sys/… may be symlinks to the machine's own
 * secrets. Under a root that is not "/", /proc and /sys are files like any
 * other: links re-root inside the copy, and the machine's files are never
 * opened, so never quoted in a finding.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HostPathError, RootedHost } from "../../src/node/host.js";
import { runCli } from "../support/cli.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

/** A secret of the machine running node-doctor, outside every host root; formatted as /proc/swaps so a swap rule would quote it. */
const CANARY = `node-doctor-canary-${process.pid}`;
const SECRET_TEXT = `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/${CANARY}\tfile\t\t1048572\t\t0\t\t-2\n`;

describe("confinement to the host root", () => {
  let outside: string;
  let secret: string;
  before(async () => {
    outside = await mkdtemp(join(tmpdir(), "nd-outside-"));
    secret = join(outside, "shadow");
    await writeFile(secret, SECRET_TEXT, { mode: 0o600 });
  });
  after(() => rm(outside, { recursive: true, force: true }));

  it("re-roots links under /proc and /sys like any other: absolute, relative, magic-looking, and a link swapped in between reads", async () => {
    const root = await mkdtemp(join(tmpdir(), "nd-copy-"));
    try {
      const host = new RootedHost(root);
      await mkdir(join(root, "proc/4242/ns"), { recursive: true });
      await mkdir(join(root, "sys/class/net"), { recursive: true });
      await mkdir(join(root, "etc"), { recursive: true });
      await writeFile(join(root, "etc/inside"), "inside the copy");
      await symlink(secret, join(root, "proc/swaps")); // absolute, to the machine's file
      await symlink(`../../../../../../../..${secret}`, join(root, "proc/meminfo")); // relative, climbing out
      await symlink(secret, join(root, "sys/class/net/eth0"));
      await symlink("4242", join(root, "proc/self")); // as procfs' own "self"
      await symlink("/", join(root, "proc/4242/root")); // as a process's root magic link
      await symlink("net:[4026531840]", join(root, "proc/4242/ns/net"));

      for (const path of ["/proc/swaps", "/proc/meminfo", "/sys/class/net/eth0"]) {
        await assert.rejects(host.readText(path), (error: unknown) => error instanceof HostPathError && error.code === "ENOENT", path);
        assert.equal(await host.exists(path), false, path);
      }
      assert.equal(await host.resolve("/proc/swaps"), secret, "the target, inside the root");
      assert.equal(await host.readText("/proc/self/root/etc/inside"), "inside the copy", "magic-looking links land inside the copy");
      assert.equal(await host.readLink("/proc/self/ns/net"), "net:[4026531840]");

      // A file swapped for a link to the secret between two reads: the next read re-roots it too.
      await writeFile(join(root, "etc/race"), "before");
      const resolved = await host.resolve("/etc/race");
      await unlink(join(root, "etc/race"));
      await symlink(secret, join(root, "etc/race"));
      assert.equal(resolved, "/etc/race");
      await assert.rejects(host.readText("/etc/race"), (error: unknown) => error instanceof HostPathError && error.code === "ENOENT");
      await assert.rejects(host.stat("/etc/race"), (error: unknown) => error instanceof HostPathError && error.code === "ENOENT");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  describe("node-doctor check --host-root on a hostile node copy", () => {
    let copy: FixtureRoot;
    before(async () => {
      copy = await fixtureRoot("kubelet-config-healthy");
      await unlink(join(copy.root, "proc/swaps"));
      await symlink(secret, join(copy.root, "proc/swaps"));
      await symlink(secret, join(copy.root, "proc/1843/environ"));
    });
    after(() => copy.cleanup());

    it("never quotes the machine's file in a finding: /proc/swaps is missing from the copy, and the check says so", async () => {
      const result = await runCli(["check", "--host-root", copy.root, "--only", "kubelet-config", "--output", "json"]);
      assert.ok(!result.stdout.includes(CANARY) && !result.stderr.includes(CANARY), "the secret never leaves");
      assert.ok(result.code !== null && result.code <= 2, result.stderr);
      const findings = (JSON.parse(result.stdout) as { findings: Array<{ reason: string; message: string }> }).findings;
      assert.ok(findings.length > 0);
      assert.ok(
        findings.some((f) => /\/proc\/swaps/.test(f.message)),
        `a finding names /proc/swaps: ${findings.map((f) => `${f.reason}: ${f.message}`).join(" | ")}`,
      );
    });
  });
});
