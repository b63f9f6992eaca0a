/**
 * Which process node-doctor takes for kubelet, and what it does when a read
 * fails for its own reasons. node-doctor runs as root and reads the files
 * kubelet's flags name: a process any user can start under the name kubelet
 * must not make it read and quote a root-only file (a confused deputy), and
 * running out of file descriptors must not turn into "kubelet.service is
 * disabled".
 */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { createCertificatesCheck, certificateSettings } from "../../src/checks/certificates/index.js";
import { createKubeletCheck } from "../../src/checks/kubelet/index.js";
import { HostPathError, RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import type { Host } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { kubeletTestSettings, startHealthz } from "../support/kubelet-harness.js";

let fixture: FixtureRoot | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** A process in the fixture's /proc as the kernel shows it: comm, cmdline, status (uid) and the exe link. */
async function writeProcess(root: string, pid: number, argv: string[], options: { uid: number; exe: string }): Promise<void> {
  const dir = join(root, "proc", String(pid));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "comm"), "kubelet\n");
  await writeFile(join(dir, "cmdline"), argv.join("\0") + "\0");
  await writeFile(join(dir, "status"), `Name:\tkubelet\nPid:\t${pid}\nUid:\t${options.uid}\t${options.uid}\t${options.uid}\t${options.uid}\n`);
  await symlink(options.exe, join(dir, "exe"));
}

const SECRET = "root:$6$not-for-your-eyes$abcdefghijklmnopqrstuvwxyz0123456789:19000:0:99999:7:::\n";

describe("a process named kubelet is kubelet only when it can be trusted", () => {
  it("one started by an unprivileged user is ignored: the file its flags name is never read or quoted", async () => {
    fixture = await fixtureRoot();
    await mkdir(join(fixture.root, "etc"), { recursive: true });
    await writeFile(join(fixture.root, "etc/shadow"), SECRET, { mode: 0o600 });
    await writeProcess(fixture.root, 3100, ["/home/mallory/kubelet", "--kubeconfig=/etc/shadow", "--config=/etc/shadow"], {
      uid: 1000,
      exe: "/home/mallory/kubelet",
    });
    const host = new RootedHost(fixture.root);
    const reads: string[] = [];
    const readText = host.readText.bind(host);
    host.readText = (path, options) => {
      reads.push(path);
      return readText(path, options);
    };
    const locator = new KubeletLocator(host, new FakeClock(), 0);
    const setup = await locator.locate();
    assert.equal(setup.process, undefined);
    assert.deepEqual(setup.ignored, [{ pid: 3100, why: "it runs as uid 1000, not root" }]);
    const check = createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), { kubelet: locator });
    const findings = await check.run(checkContext(fixture.root, {}));
    assert.ok(!reads.includes("/etc/shadow"), `read ${reads.join(", ")}`);
    assert.ok(!JSON.stringify(findings).includes("not-for-your-eyes"));
  });

  it("one run by root from a path no installer uses is ignored; the unit's MainPID wins among trusted ones", async () => {
    fixture = await fixtureRoot();
    await writeProcess(fixture.root, 3200, ["/tmp/kubelet", "--config=/etc/shadow"], { uid: 0, exe: "/tmp/kubelet" });
    await writeProcess(fixture.root, 3300, ["/usr/bin/kubelet", "--node-ip=10.0.0.5"], { uid: 0, exe: "/usr/bin/kubelet" });
    await writeProcess(fixture.root, 3400, ["/usr/bin/kubelet", "--node-ip=10.0.0.6"], { uid: 0, exe: "/usr/bin/kubelet" });
    const locator = new KubeletLocator(new RootedHost(fixture.root), new FakeClock(), 0);
    const first = await locator.locate();
    assert.equal(first.process?.pid, 3300, "the oldest without systemd's word");
    assert.deepEqual(first.ignored, [{ pid: 3200, why: "its executable /tmp/kubelet is not a kubelet install path" }]);
    locator.noteUnit({ mainPid: 3400 });
    const second = await locator.locate();
    assert.equal(second.process?.pid, 3400);
    assert.equal(second.flags.values.get("node-ip"), "10.0.0.6");
    assert.deepEqual(
      second.otherProcesses.map((p) => p.pid),
      [3300],
    );
  });
});

describe("a read that fails for the agent's own reasons is could-not-look", () => {
  it("EMFILE on the unit tree is an error the engine reports as unknown, never KubeletServiceDisabled", async () => {
    fixture = await fixtureRoot("kubelet-disabled-after-reboot");
    const host = new RootedHost(fixture.root);
    // Out of file descriptors: every open, stat and listing under the unit directories fails as the kernel says.
    const emfile = <T>(fn: (path: string, ...rest: never[]) => Promise<T>) =>
      ((path: string, ...rest: never[]) =>
        /systemd/.test(path) ? Promise.reject(new HostPathError(path, "EMFILE", "too many open files")) : fn(path, ...rest)) as (path: string) => Promise<T>;
    const hostile: Host = Object.assign(Object.create(Object.getPrototypeOf(host) as object) as Host, host, {
      lstat: emfile(host.lstat.bind(host)),
      stat: emfile(host.stat.bind(host)),
      list: emfile(host.list.bind(host)),
      exists: (path: string) => (/systemd/.test(path) ? Promise.resolve(false) : host.exists(path)),
    });
    const healthz = await startHealthz();
    try {
      const clock = new FakeClock();
      const check = createKubeletCheck(kubeletTestSettings(healthz.closedUrl), { kubelet: new KubeletLocator(hostile, clock) });
      await assert.rejects(
        check.run({ ...checkContext(fixture.root, { clock }), host: hostile }),
        (error: Error) => /EMFILE/.test(error.message) && /not a fact about the node/.test(error.message),
      );
      await check.close?.();
    } finally {
      await healthz.close();
    }
  });
});
