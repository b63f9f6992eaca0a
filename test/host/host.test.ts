import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HostPathError, RootedHost } from "../../src/node/host.js";

describe("RootedHost", () => {
  let root: string;
  let host: RootedHost;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "node-doctor-host-"));
    host = new RootedHost(root);
    await mkdir(join(root, "var/lib/kubelet/pki"), { recursive: true });
    await writeFile(join(root, "var/lib/kubelet/pki/kubelet-client-2026-11-24.pem"), "cert");
    // kubelet writes absolute targets: they must resolve inside the root.
    await symlink("/var/lib/kubelet/pki/kubelet-client-2026-11-24.pem", join(root, "var/lib/kubelet/pki/kubelet-client-current.pem"));
    await symlink("/var/lib/kubelet/pki/gone.pem", join(root, "var/lib/kubelet/pki/dangling.pem"));
    await symlink("loop-b", join(root, "loop-a"));
    await symlink("loop-a", join(root, "loop-b"));
    await symlink("../../../../../../etc", join(root, "var/lib/escape"));
    await writeFile(join(root, "big"), Buffer.alloc(2048));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("resolves absolute symlink targets inside the root", async () => {
    assert.equal(await host.resolve("/var/lib/kubelet/pki/kubelet-client-current.pem"), "/var/lib/kubelet/pki/kubelet-client-2026-11-24.pem");
    assert.equal(await host.readText("/var/lib/kubelet/pki/kubelet-client-current.pem"), "cert");
    assert.equal(await host.readLink("/var/lib/kubelet/pki/kubelet-client-current.pem"), "/var/lib/kubelet/pki/kubelet-client-2026-11-24.pem");
    assert.equal((await host.lstat("/var/lib/kubelet/pki/kubelet-client-current.pem")).kind, "symlink");
    assert.equal((await host.stat("/var/lib/kubelet/pki/kubelet-client-current.pem")).kind, "file");
  });

  it("never climbs above the root with ..", async () => {
    assert.equal(await host.resolve("/var/lib/escape"), "/etc");
    assert.equal(await host.exists("/var/lib/escape/passwd"), false);
  });

  it("names a dangling symlink and its target", async () => {
    await assert.rejects(host.readText("/var/lib/kubelet/pki/dangling.pem"), (error: unknown) => {
      assert.ok(error instanceof HostPathError);
      assert.equal(error.message, "/var/lib/kubelet/pki/dangling.pem: dangling symlink to /var/lib/kubelet/pki/gone.pem, which does not exist");
      return true;
    });
  });

  it("reports a symlink loop", async () => {
    await assert.rejects(host.readText("/loop-a"), /^HostPathError: \/loop-a: symlink loop$/);
  });

  it("refuses a directory where a file belongs, and files over the size limit", async () => {
    await assert.rejects(host.readText("/var/lib/kubelet"), /\/var\/lib\/kubelet: is a directory, expected a file/);
    await assert.rejects(host.readText("/big", { maxBytes: 1024 }), /\/big: is 2048 bytes, more than the 1024 node-doctor reads/);
  });

  it("says a missing file does not exist, with its node path", async () => {
    await assert.rejects(host.readText("/etc/kubernetes/kubelet.conf"), /^HostPathError: \/etc\/kubernetes\/kubelet\.conf: does not exist$/);
  });

  it("honours an aborted signal", async () => {
    await assert.rejects(host.readText("/big", { signal: AbortSignal.abort() }), /timed out while reading/);
  });

  it("statfs answers for paths through symlinks", async () => {
    const stats = await host.statfs("/var/lib/kubelet/pki");
    assert.ok(stats.sizeBytes > 0 && stats.availableBytes >= 0);
  });
});
