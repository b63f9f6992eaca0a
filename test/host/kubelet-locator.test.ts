/**
 * One check timing out while kubelet is being found must not hand the other
 * checks (or later runs) a cut-off result dressed as a broken config file.
 */
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { systemClock } from "../../src/time/clock.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator, loadYamlMapping } from "../../src/node/kubelet/locator.js";
import { FIXTURES, fixtureRoot } from "../support/fixture-root.js";

const ROOT = `${FIXTURES}disk-healthy`;

describe("kubelet discovery under timeouts", () => {
  it("a caller whose signal aborts stops waiting; the next caller gets the real config", async () => {
    const locator = new KubeletLocator(new RootedHost(ROOT), systemClock);
    const first = new AbortController();
    const pending = locator.locate(first.signal);
    first.abort(new Error("the disk check timed out"));
    await assert.rejects(pending, /the disk check timed out/);
    const setup = await locator.locate(new AbortController().signal);
    assert.equal(setup.config?.ok, true, JSON.stringify(setup.config));
  });

  it("an aborted read of a YAML file throws instead of reporting the file as invalid", async () => {
    const aborted = AbortSignal.abort(new Error("cut off"));
    await assert.rejects(loadYamlMapping(new RootedHost(ROOT), "/var/lib/kubelet/config.yaml", aborted), /cut off/);
    const read = await loadYamlMapping(new RootedHost(ROOT), "/var/lib/kubelet/config.yaml");
    assert.equal(read.ok, true);
  });
});

describe("kubelet discovery reuses the parsed config", () => {
  it("parses kubelet's config again only when the file changes", async () => {
    const node = await fixtureRoot("disk-healthy", { tmpfsRoot: false });
    try {
      const host = new RootedHost(node.root);
      let reads = 0;
      const readText = host.readText.bind(host);
      host.readText = (path, options) => {
        if (path === "/var/lib/kubelet/config.yaml") reads++;
        return readText(path, options);
      };
      const locator = new KubeletLocator(host, systemClock, 0);
      const first = await locator.locate();
      const second = await locator.locate();
      assert.equal(reads, 1, "unchanged: parsed once");
      assert.equal(second.configFiles.file, first.configFiles.file, "the same parsed document");
      const file = join(node.root, "var/lib/kubelet/config.yaml");
      await writeFile(file, `${await readFile(file, "utf8")}\nmaxPods: 42\n`);
      const third = await locator.locate();
      assert.equal(reads, 2, "changed: parsed again");
      assert.equal(third.config?.ok && third.config.value["maxPods"], 42);
      await rm(file);
      const fourth = await locator.locate();
      assert.equal(fourth.configPath, undefined, "gone: no config, nothing stale");
    } finally {
      await node.cleanup();
    }
  });
});
