/**
 * Package versions from dpkg's status file, checked against this Debian
 * machine's own database and dpkg-query's answer for the same package.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { parseKubeVersion } from "../../src/node/kubelet/version.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletVersionSources } from "../../src/node/kubelet/version-sources.js";
import { DPKG_STATUS_PATH, dpkgPackageVersion } from "../../src/node/packages.js";
import { runTool } from "../support/tools.js";

describe("dpkg status", () => {
  it("finds the same version of containerd as dpkg-query on this machine", async () => {
    const expected = await runTool("dpkg-query", ["-W", "-f=${Version}", "containerd"]);
    assert.equal(expected.code, 0, expected.stderr);
    const text = await readFile(DPKG_STATUS_PATH, "utf8");
    assert.equal(dpkgPackageVersion(text, "containerd"), expected.stdout.trim());
    assert.equal(dpkgPackageVersion(text, "kubelet-not-a-package"), undefined);
  });

  it("skips removed packages and does not match name prefixes", () => {
    const text =
      "Package: kubelet-extra\nStatus: install ok installed\nVersion: 9.9\n\nPackage: kubelet\nStatus: deinstall ok config-files\nVersion: 1.6.0-00\n";
    assert.equal(dpkgPackageVersion(text, "kubelet"), undefined);
    assert.equal(dpkgPackageVersion(text + "\nPackage: kubelet\nStatus: install ok installed\nVersion: 1.7.16-00\n", "kubelet"), "1.7.16-00");
  });

  it("a host without dpkg has no answer, not an error", async () => {
    assert.equal(await new KubeletVersionSources(new RootedHost("/nonexistent-root")).find({ binaries: [] }), undefined);
  });
});

describe("Kubernetes versions", () => {
  it("reads package, Node and tag spellings", () => {
    for (const [text, minor, patch] of [
      ["1.7.16-00", 7, 16],
      ["v1.28.2", 28, 2],
      ["1.30.4-1.1", 30, 4],
      ["v1.29.3-eks-adc7111", 29, 3],
      ["v1.7.16+coreos.0", 7, 16],
      ["1.31", 31, 0],
    ] as const) {
      const version = parseKubeVersion(text);
      assert.equal(version?.major, 1, text);
      assert.equal(version?.minor, minor, text);
      assert.equal(version?.patch, patch, text);
    }
    for (const text of ["", "latest", "v1", "1.x.2"]) assert.equal(parseKubeVersion(text), undefined, text);
  });
});
