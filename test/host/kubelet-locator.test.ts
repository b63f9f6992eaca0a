/**
 * One check timing out while kubelet is being found must not hand the other
 * checks (or later runs) a cut-off result dressed as a broken config file.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../../src/engine/clock.js";
import { RootedHost } from "../../src/host/host.js";
import { KubeletLocator, loadYamlMapping } from "../../src/host/kubelet.js";
import { FIXTURES } from "../support/fixture-root.js";

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
