/**
 * kubelet's version from the node's files, never by running kubelet: dpkg's
 * status, RPM's database, a distribution's record, an RKE2 release
 * directory, and the version stamp Kubernetes' build puts into the binary
 * (a real Go binary built here with the same -ldflags). Each source is
 * cached by the file's identity: a binary is scanned once per path, size and mtime.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RootedHost } from "../../src/node/host.js";
import { KubeletVersionSources, rpmPackageVersion, stampedVersion } from "../../src/node/kubelet/version-sources.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { buildStampedKubelet } from "../support/go-binary.js";

let node: FixtureRoot;
let stamped: Buffer;
before(async () => {
  node = await fixtureRoot();
  stamped = await buildStampedKubelet("v1.7.16");
});
after(async () => {
  await node.cleanup();
});

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(node.root, path)), { recursive: true });
  await writeFile(join(node.root, path), content);
}

/** The strings of an RPM header's data store as rpm lays them out: NAME, VERSION, RELEASE in tag order, NUL-terminated. */
function rpmHeader(name: string, version: string, release: string): Buffer {
  const magic = Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
  return Buffer.concat([magic, Buffer.alloc(64, 0), Buffer.from(`\0${name}\0${version}\0${release}\0Node agent for Kubernetes clusters\0`, "latin1")]);
}

describe("kubelet version sources", () => {
  it("RPM header blobs: the newest kubelet header wins; requires and other packages are not taken", () => {
    const db = Buffer.concat([
      rpmHeader("kubeadm", "1.30.4", "150500.1.1"),
      Buffer.from("\0kubelet\0kubectl\0cri-tools\0", "latin1"), // a requires list naming kubelet
      rpmHeader("kubelet", "1.30.4", "150500.1.1"),
      rpmHeader("kubelet", "1.31.2", "150500.1.1"),
    ]).toString("latin1");
    assert.equal(rpmPackageVersion(db, "kubelet"), "1.31.2-150500.1.1");
    assert.equal(rpmPackageVersion(db, "kube-proxy"), undefined);
  });

  it("the stamp Kubernetes' build writes into a real Go binary", () => {
    assert.equal(stampedVersion(stamped.toString("latin1")), "v1.7.16");
  });

  it("tries packages, the distribution's record, then the binaries, and says where it read", async () => {
    const sources = new KubeletVersionSources(new RootedHost(node.root));
    await put("/usr/bin/kubelet", stamped);
    await chmod(join(node.root, "usr/bin/kubelet"), 0o755);
    const binary = await sources.find({ binaries: ["/usr/bin/kubelet"] });
    assert.equal(binary?.version.text, "v1.7.16");
    assert.equal(binary?.source, "the version stamped into /usr/bin/kubelet (v1.7.16)");

    await put("/etc/eks/kubelet-version.txt", "Kubernetes v1.33.5-eks-113cf36\n");
    const record = await sources.find({ binaries: ["/usr/bin/kubelet"], versionFile: "/etc/eks/kubelet-version.txt" });
    assert.equal(record?.version.text, "v1.33.5-eks-113cf36");
    assert.match(record?.source ?? "", /^\/etc\/eks\/kubelet-version\.txt/);

    await put("/var/lib/rpm/rpmdb.sqlite", Buffer.concat([Buffer.from("SQLite format 3\0"), rpmHeader("kubelet", "1.32.1", "150500.1.1")]));
    const rpm = await sources.find({ binaries: ["/usr/bin/kubelet"], versionFile: "/etc/eks/kubelet-version.txt" });
    assert.equal(rpm?.source, "/var/lib/rpm/rpmdb.sqlite, package kubelet 1.32.1-150500.1.1");

    await put("/var/lib/dpkg/status", "Package: kubelet\nStatus: install ok installed\nVersion: 1.31.4-1.1\n\n");
    const dpkg = await sources.find({ binaries: [] });
    assert.equal(dpkg?.source, "/var/lib/dpkg/status, package kubelet 1.31.4-1.1");
    await rm(join(node.root, "var/lib/dpkg"), { recursive: true });
    await rm(join(node.root, "var/lib/rpm"), { recursive: true });
    await rm(join(node.root, "etc/eks"), { recursive: true });
  });

  it("an RKE2 kubelet's release directory names its version", async () => {
    const sources = new KubeletVersionSources(new RootedHost(node.root));
    const found = await sources.find({ binaries: ["/var/lib/rancher/rke2/data/v1.34.4-rke2r1-0d52262ea640/bin/kubelet"] });
    assert.equal(found?.version.text, "v1.34.4-rke2r1");
  });

  it("a binary is scanned once per path, size and mtime", async () => {
    const sources = new KubeletVersionSources(new RootedHost(node.root));
    await put("/usr/bin/kubelet", stamped);
    await sources.find({ binaries: ["/usr/bin/kubelet"] });
    await sources.find({ binaries: ["/usr/bin/kubelet"] });
    assert.equal(sources.reads, 1);
    await put("/usr/bin/kubelet", Buffer.concat([stamped, Buffer.from("x")]));
    await sources.find({ binaries: ["/usr/bin/kubelet"] });
    assert.equal(sources.reads, 2, "a new binary (an upgrade) is scanned again");
  });
});
