/**
 * The disk check on real filesystems: tiny tmpfs mounts inside fixture roots,
 * filled until kubelet's thresholds are crossed (tests run as root).
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createDiskCheck, diskSettings } from "../../src/checks/disk/index.js";
import type { FilesystemEvidence } from "../../src/checks/disk/judge.js";
import { systemClock } from "../../src/time/clock.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { RootedHost } from "../../src/node/host.js";
import type { Finding, SharedFacts } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { fillBytes, fillInodes, fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

let fixture: FixtureRoot | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

async function runDisk(root: string, settings: Record<string, unknown> = {}, facts: SharedFacts = {}): Promise<Finding[]> {
  const check = createDiskCheck(diskSettings.parse(settings, "checks.disk"), { kubelet: new KubeletLocator(new RootedHost(root), systemClock) });
  return check.run(checkContext(root, { facts }));
}

/** Findings about one node path's filesystem (the fixture's "/" is the test machine's own disk). */
function on(findings: Finding[], mountPoint: string): Finding[] {
  return findings.filter((f) => (f.evidence as FilesystemEvidence | undefined)?.mountPoint === mountPoint);
}

describe("disk check", () => {
  it("healthy: kubelet's filesystem with room gives one ok finding with its figures", async () => {
    fixture = await fixtureRoot("disk-healthy");
    await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    const findings = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.equal(findings.length, 1);
    assert.equal(findings[0]?.severity, "ok");
    assert.equal(findings[0]?.reason, "FilesystemOk");
    assert.match(findings[0]?.message ?? "", /4\.0 MiB/);
    const evidence = findings[0]?.evidence as FilesystemEvidence;
    assert.deepEqual(evidence.roles, ["nodefs"]);
    assert.equal(evidence.sizeBytes, 4 * 1024 * 1024);
  });

  it("bytes nearly full: below nodefs.available<10% is critical and names mount, free, total and threshold", async () => {
    fixture = await fixtureRoot("disk-bytes-full");
    const dir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await fillBytes(dir, 200 * 1024);
    const [finding, ...rest] = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.equal(rest.length, 0);
    assert.equal(finding?.severity, "critical");
    assert.equal(finding?.reason, "NodeFsAvailableLow");
    assert.equal(finding?.condition, "DiskSpaceLow");
    assert.match(finding?.message ?? "", /filesystem \/var\/lib\/kubelet has .* available of 4\.0 MiB/);
    assert.match(finding?.message ?? "", /nodefs\.available<10% \(kubelet's defaults\)/);
    assert.match(finding?.remedy ?? "", /du -xh --max-depth=3 \/var\/lib\/kubelet/);
    assert.match(finding?.remedy ?? "", /\/var\/log\/pods/);
  });

  it("bytes within the headroom above the threshold is a warning", async () => {
    fixture = await fixtureRoot("disk-bytes-full");
    const dir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await fillBytes(dir, 500 * 1024); // ~12% free: under 10% + 5% headroom
    const [finding] = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.equal(finding?.severity, "warning");
    assert.equal(finding?.reason, "NodeFsAvailableLow");
    assert.match(finding?.message ?? "", /within 5% of kubelet's hard eviction threshold/);
  });

  it("inodes nearly exhausted while bytes are fine is critical NodeFsInodesLow", async () => {
    fixture = await fixtureRoot("disk-inodes-exhausted");
    const dir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 200 });
    await fixture.writeMountinfo();
    await fillInodes(dir, 5);
    const findings = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.deepEqual(
      findings.map((f) => [f.reason, f.severity]),
      [["NodeFsInodesLow", "critical"]],
    );
    assert.match(findings[0]?.message ?? "", /of 200 inodes free/);
    assert.match(findings[0]?.remedy ?? "", /find \/var\/lib\/kubelet -xdev/);
  });

  it("custom evictionHard in kubelet's config moves the threshold", async () => {
    fixture = await fixtureRoot("disk-custom-eviction");
    const dir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await fillBytes(dir, 1400 * 1024); // ~34% free: fine by default, below the configured 40%
    const [finding] = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.equal(finding?.severity, "critical");
    assert.equal(finding?.reason, "NodeFsAvailableLow");
    assert.match(finding?.message ?? "", /nodefs\.available<40% \(evictionHard in \/var\/lib\/kubelet\/config\.yaml\)/);
  });

  it("a separate image filesystem is judged by imagefs.available<15%", async () => {
    fixture = await fixtureRoot("disk-healthy");
    await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    const images = await fixture.mountTmpfs("/var/lib/containerd", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await fillBytes(images, 480 * 1024); // ~11.7% free: fine for nodefs, under imagefs' 15%
    const all = await runDisk(fixture.root);
    assert.equal(on(all, "/var/lib/kubelet")[0]?.severity, "ok");
    const [finding] = on(all, "/var/lib/containerd");
    assert.equal(finding?.reason, "ImageFsAvailableLow");
    assert.equal(finding?.severity, "critical");
    assert.match(finding?.remedy ?? "", /crictl rmi --prune/);
  });

  it("a kubelet filesystem remounted read-only is critical", async () => {
    fixture = await fixtureRoot("disk-readonly");
    await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000, readOnly: true });
    await fixture.writeMountinfo();
    const [finding] = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.equal(finding?.reason, "FilesystemReadOnly");
    assert.equal(finding?.severity, "critical");
    assert.match(finding?.message ?? "", /is mounted read-only \(tmpfs, tmpfs\); kubelet and the container runtime cannot write to it/);
    assert.match(finding?.remedy ?? "", /dmesg/);
  });

  it("malformed kubelet config: a warning naming the file and line, judged against the defaults, no crash", async () => {
    fixture = await fixtureRoot("disk-malformed-config");
    const dir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await fixture.writeMountinfo();
    await fillBytes(dir, 200 * 1024);
    const findings = await runDisk(fixture.root);
    const unreadable = findings.find((f) => f.reason === "EvictionThresholdsUnreadable");
    assert.equal(unreadable?.severity, "warning");
    assert.match(unreadable?.message ?? "", /\/var\/lib\/kubelet\/config\.yaml: invalid YAML \(line \d+/);
    assert.match(unreadable?.message ?? "", /judging disk space against kubelet's defaults/);
    assert.equal(on(findings, "/var/lib/kubelet")[0]?.reason, "NodeFsAvailableLow");
  });

  it("an extra mount that does not exist is unknown and names the path", async () => {
    fixture = await fixtureRoot("disk-healthy");
    await mkdir(join(fixture.root, "var/lib/kubelet"), { recursive: true });
    const findings = await runDisk(fixture.root, { extraMounts: ["/mnt/data"] });
    const missing = on(findings, "/mnt/data")[0];
    assert.equal(missing?.severity, "unknown");
    assert.equal(missing?.reason, "FilesystemUnreadable");
    assert.match(missing?.message ?? "", /\/mnt\/data: does not exist/);
  });

  it("on a machine without kubelet only / is judged", async () => {
    fixture = await fixtureRoot();
    const findings = await runDisk(fixture.root);
    assert.ok(findings.length >= 1);
    assert.ok(findings.every((f) => (f.evidence as FilesystemEvidence).roles.includes("root")));
  });
});

describe("disk check: a filesystem that refuses writes while its mount says rw", () => {
  it("ext4 after an error with errors=remount-ro: FilesystemReadOnly, critical, naming emergency_ro (kernels >= 6.6) and ext4's errors_count", async () => {
    fixture = await fixtureRoot("disk-healthy");
    const loop = await fixture.mountExt4Loop("/var/lib/kubelet", { sizeMiB: 32, options: "errors=remount-ro" });
    await writeFile(`/sys/fs/ext4/${loop.device}/trigger_fs_error`, "node-doctor disk test");
    await fixture.bindFromHost(`/sys/fs/ext4/${loop.device}`);
    await fixture.writeMountinfo();
    const mountinfo = await readFile(join(fixture.root, "proc/1/mountinfo"), "utf8");
    const findings = on(await runDisk(fixture.root), "/var/lib/kubelet");
    const readOnly = findings.find((f) => f.reason === "FilesystemReadOnly");
    assert.ok(readOnly, `no FilesystemReadOnly among ${findings.map((f) => `${f.reason}: ${f.message}`).join("\n")}`);
    assert.equal(readOnly.severity, "critical");
    if (/ - ext4 \S+ \S*emergency_ro/.test(mountinfo)) {
      // This kernel (>= 6.6) left the mount rw: only the superblock option tells.
      assert.match(mountinfo, new RegExp(`/var/lib/kubelet rw[, ]`));
      assert.match(readOnly.message, /marked its superblock emergency_ro .*the mount still says rw/);
      assert.equal((readOnly.evidence as FilesystemEvidence).readOnlyWhy, "emergency_ro");
    } else {
      assert.match(readOnly.message, /is mounted read-only/);
    }
    assert.match(readOnly.message, new RegExp(`ext4 recorded 1 error\\(s\\) since its last fsck \\(/sys/fs/ext4/${loop.device}/errors_count\\)`));
    assert.equal((readOnly.evidence as FilesystemEvidence).errorsCount, 1);
  });

  it("the kernel check's report of a shutdown for the device (an XFS shutdown keeps the mount rw) makes FilesystemReadOnly fire and quotes the kernel's line", async () => {
    fixture = await fixtureRoot("disk-healthy");
    const loop = await fixture.mountExt4Loop("/var/lib/kubelet", { sizeMiB: 32, options: "errors=continue" });
    await fixture.writeMountinfo();
    const line = `XFS (${loop.device}): Log I/O Error Detected.  Shutting down filesystem`;
    const facts: SharedFacts = {
      kernelFilesystems: {
        devices: { [loop.device]: { reason: "XfsShutdown", line, atMs: Date.parse("2026-12-02T04:00:00Z"), refusesWrites: true } },
        measuredAtMonotonicMs: 0,
      },
    };
    const findings = on(await runDisk(fixture.root, {}, facts), "/var/lib/kubelet");
    const readOnly = findings.find((f) => f.reason === "FilesystemReadOnly");
    assert.ok(readOnly, findings.map((f) => f.reason).join(", "));
    assert.equal(readOnly.severity, "critical");
    assert.match(readOnly.message, /the kernel reported XfsShutdown on it \(the mount still says rw\)/);
    assert.ok(readOnly.message.includes(`The kernel logged at 2026-12-02T04:00:00.000Z: ${line}`));
    assert.equal((readOnly.evidence as FilesystemEvidence).kernelReason, "XfsShutdown");
    // Without the report the same filesystem is fine.
    assert.ok(!on(await runDisk(fixture.root), "/var/lib/kubelet").some((f) => f.reason === "FilesystemReadOnly"));
  });

  it("ext4 with errors=continue after an error stays writable: FilesystemErrorsRecorded, a warning with errors_count", async () => {
    fixture = await fixtureRoot("disk-healthy");
    const loop = await fixture.mountExt4Loop("/var/lib/kubelet", { sizeMiB: 32, options: "errors=continue" });
    await writeFile(`/sys/fs/ext4/${loop.device}/trigger_fs_error`, "node-doctor disk test");
    await fixture.bindFromHost(`/sys/fs/ext4/${loop.device}`);
    await fixture.writeMountinfo();
    const findings = on(await runDisk(fixture.root), "/var/lib/kubelet");
    assert.ok(!findings.some((f) => f.reason === "FilesystemReadOnly"), findings.map((f) => f.message).join("\n"));
    const recorded = findings.find((f) => f.reason === "FilesystemErrorsRecorded");
    assert.equal(recorded?.severity, "warning");
    assert.match(recorded?.message ?? "", /ext4 recorded 1 error\(s\)/);
  });
});
