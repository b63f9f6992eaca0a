/**
 * What the network check asks the API server: the kubernetes Service, its
 * EndpointSlice and the Node once per serviceRefreshSeconds, found or not. A
 * cluster without default/kubernetes (or an API server that forgets it) is
 * not asked three GETs at every run of every node.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubernetesService, type GatherMemory } from "../../src/checks/network/gather.js";
import type { ClusterReader } from "../../src/types.js";
import { checkContext } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";

const OPTIONS = { kubeProxyModeUrl: "", dnsTimeoutMs: 1000, connectTimeoutMs: 1000, serviceRefreshMs: 300_000, maxEndpoints: 3 };

function cluster(answer: () => Awaited<ReturnType<ClusterReader["getKubernetesService"]>>): { reader: ClusterReader; asked: () => number } {
  let asked = 0;
  const reader = {
    getKubernetesService: async () => {
      asked++;
      return answer();
    },
    getNode: async () => ({ node: null, timing: { ms: 0 } }),
  } as unknown as ClusterReader; // only the two reads the network check makes
  return { reader, asked: () => asked };
}

describe("network check: API reads", () => {
  it("an absent default/kubernetes is asked for again only after the refresh interval", async () => {
    const clock = new FakeClock();
    const { reader, asked } = cluster(() => null);
    const ctx = checkContext("/nonexistent", { clock, cluster: reader });
    const memory: GatherMemory = { uplinks: [] };
    for (let run = 0; run < 10; run++) {
      const result = await kubernetesService(ctx, OPTIONS, memory);
      assert.match(result.skipped ?? "", /no default\/kubernetes Service/);
      await clock.advance(30_000);
    }
    assert.equal(asked(), 1, "ten runs 30 s apart within one refresh interval ask once");
    await clock.advance(300_000);
    await kubernetesService(ctx, OPTIONS, memory);
    assert.equal(asked(), 2);
  });

  it("a Service that appears is found at the next refresh and then kept", async () => {
    const clock = new FakeClock();
    let present = false;
    const service = { service: { spec: { clusterIP: "10.96.0.1", ports: [{ name: "https", port: 443 }] } }, endpointSlices: [] };
    const { reader, asked } = cluster(() => (present ? (service as never) : null));
    const ctx = checkContext("/nonexistent", { clock, cluster: reader });
    const memory: GatherMemory = { uplinks: [] };
    await kubernetesService(ctx, OPTIONS, memory);
    present = true;
    await clock.advance(300_000);
    assert.deepEqual((await kubernetesService(ctx, OPTIONS, memory)).service?.clusterIPs, ["10.96.0.1"]);
    await clock.advance(30_000);
    await kubernetesService(ctx, OPTIONS, memory);
    assert.equal(asked(), 2);
  });
});
