/** kubelet's unit from the unit tree: enablement, masking, and the flags its environment files give it. */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { RootedHost } from "../../src/node/host.js";
import { readUnitFiles, unitStateFromProperties } from "../../src/node/systemd.js";
import { readUnitCommand } from "../../src/node/unit-file.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

const roots: FixtureRoot[] = [];
afterEach(async () => {
  for (const r of roots.splice(0)) await r.cleanup();
});
async function root(name?: string): Promise<FixtureRoot> {
  const r = await fixtureRoot(name);
  roots.push(r);
  return r;
}

describe("unit files", () => {
  it("a kubeadm node: unit in /lib, enabled by a multi-user.target.wants link in /etc", async () => {
    const r = await root("kubelet-healthy");
    assert.deepEqual(await readUnitFiles(new RootedHost(r.root), "kubelet.service"), {
      unit: "kubelet.service",
      unitFile: "/lib/systemd/system/kubelet.service",
      masked: false,
      wantedBy: ["multi-user.target"],
      dropInDirs: ["/etc/systemd/system/kubelet.service.d"],
    });
  });

  it("the reboot without kubelet: the unit exists and nothing wants it", async () => {
    const r = await root("kubelet-disabled-after-reboot");
    const files = await readUnitFiles(new RootedHost(r.root), "kubelet.service");
    assert.equal(files.unitFile, "/lib/systemd/system/kubelet.service");
    assert.deepEqual(files.wantedBy, []);
  });

  it("a link in /etc to /dev/null masks the unit; a .requires/ link counts as wanted", async () => {
    const r = await root("kubelet-disabled-after-reboot");
    await symlink("/dev/null", join(r.root, "etc/systemd/system/kubelet.service"));
    await mkdir(join(r.root, "usr/lib/systemd/system/graphical.target.requires"), { recursive: true });
    await symlink("../kubelet.service", join(r.root, "usr/lib/systemd/system/graphical.target.requires/kubelet.service"));
    const files = await readUnitFiles(new RootedHost(r.root), "kubelet.service");
    assert.equal(files.masked, true);
    assert.equal(files.unitFile, "/etc/systemd/system/kubelet.service");
    assert.deepEqual(files.wantedBy, ["graphical.target"]);
  });

  it("an empty host has no unit", async () => {
    const r = await root();
    assert.deepEqual(await readUnitFiles(new RootedHost(r.root), "kubelet.service"), { unit: "kubelet.service", masked: false, wantedBy: [], dropInDirs: [] });
  });
});

describe("kubelet's flags from the unit's environment files (the one unit reader, unit-file.ts)", () => {
  it("reads KUBELET_KUBEADM_ARGS from kubeadm-flags.env and KUBELET_EXTRA_ARGS from /etc/default/kubelet", async () => {
    const r = await root("kubelet-disabled-after-reboot");
    await mkdir(join(r.root, "etc/default"), { recursive: true });
    await writeFile(join(r.root, "etc/default/kubelet"), "# extra\nKUBELET_EXTRA_ARGS='--max-pods=50 --node-labels=\"a=b\"'\nOTHER=--ignored\n");
    const unit = await readUnitCommand(new RootedHost(r.root), "kubelet.service");
    const args = unit?.argv ?? [];
    assert.ok(args.includes("--node-ip=192.168.1.50"), JSON.stringify(args));
    assert.ok(args.includes("--max-pods=50"));
    assert.ok(args.includes("--node-labels=a=b"));
    assert.ok(!args.includes("--ignored"));
    assert.deepEqual(unit?.environmentFiles, ["/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet"]);
  });

  it("ignores a binary environment file", async () => {
    const r = await root("kubelet-disabled-after-reboot");
    await writeFile(
      join(r.root, "var/lib/kubelet/kubeadm-flags.env"),
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x4b, 0x55, 0x42, 0x45, 0x4c, 0x45, 0x54, 0x5f, 0x41, 0x3d, 0x31]),
    );
    const unit = await readUnitCommand(new RootedHost(r.root), "kubelet.service");
    assert.ok(!unit?.argv.some((a) => a.includes("KUBELET_A")), JSON.stringify(unit?.argv));
  });
});

describe("systemd properties at the edge", () => {
  it("requires ActiveState and ignores properties of the wrong type", () => {
    assert.throws(() => unitStateFromProperties({ SubState: "running" }, {}), /lack ActiveState/);
    assert.deepEqual(unitStateFromProperties({ ActiveState: "active", SubState: 7, ActiveEnterTimestamp: 0 }, { NRestarts: "many", Result: "success" }), {
      loaded: true,
      activeState: "active",
      result: "success",
    });
  });
});
