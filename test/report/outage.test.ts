/**
 * The API server misbehaves: down when the agent starts, throttling with 429.
 * The whole agent (assemble + startAgent, real HTTP server, real HTTPS client)
 * runs on a simulated clock: it keeps checking and serving /metrics and
 * /readyz all along, says once that the API is unreachable, backs off with
 * growing jittered delays, and writes the current state once on recovery.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createJsonLog } from "../../src/telemetry/log.js";
import { assemble, configSchema, startAgent } from "../../src/main/agent.js";
import { ConditionsSink } from "../../src/sinks/conditions.js";
import { EventsSink } from "../../src/sinks/events.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, scriptedCheck } from "../support/conditions-harness.js";
import { FakeClock, settle } from "../support/fake-clock.js";

const MIN = 60_000;
const HOST_ROOT = new URL("../fixtures/disk-healthy/", import.meta.url).pathname;

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createJsonLog({ level: "debug", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe("API server outages", () => {
  let api: FakeApiServer;
  let dir: string;
  before(async () => {
    api = await FakeApiServer.start();
    dir = await api.scratchDir("nd-outage-");
  });
  after(() => api.close());

  it("starts and serves with the API server down for 15 minutes, backs off, and writes once when it returns", async () => {
    api.seedNode("outage-1");
    const kubeconfig = await api.writeKubeconfig(dir);
    api.setDown(true);
    const clock = new FakeClock(Date.now());
    const { log, lines } = capturingLogger();
    const config = configSchema.parse(
      {
        nodeName: "outage-1",
        hostRoot: HOST_ROOT,
        listen: "127.0.0.1:0",
        kubeconfig,
        kubernetes: { requestTimeoutSeconds: 2 },
        // The disk check does real statfs I/O while simulated minutes fly: a long timeout keeps a slow run from looking stuck.
        checks: { disk: { timeoutSeconds: 3600 } },
      },
      "",
    );
    let runs = 0;
    const assembly = await assemble(config, { log, clock, only: ["disk"], extraSinks: [{ name: "count", onCheckRun: () => runs++ }] });
    const agent = await startAgent(assembly);
    const conditions = assembly.cluster.sinks.find((s): s is ConditionsSink => s instanceof ConditionsSink);
    const events = assembly.cluster.sinks.find((s): s is EventsSink => s instanceof EventsSink);
    assert.ok(conditions && events, "the agent wires the conditions and events sinks");
    const between = async () => {
      // The disk check's statfs is real I/O: let it finish before simulated time moves on.
      await settle();
      await assembly.scheduler.settled();
      await settle();
      await conditions.idle();
      await events.idle();
      await settle();
    };
    const patches = () => api.requestsTo({ verb: "patch", resource: "nodes/status", name: "outage-1" }).filter((r) => r.status === 200).length;
    try {
      await clock.advance(0, between);
      for (let minute = 1; minute <= 15; minute++) {
        await clock.advance(MIN, between);
        const metrics = await fetch(`${agent.address}/metrics`);
        assert.equal(metrics.status, 200);
        const text = await metrics.text();
        assert.match(text, /node_doctor_apiserver_reachable\{node="outage-1"\} 0/);
        assert.match(text, /node_doctor_check_last_run_timestamp_seconds\{[^}]*check="disk"[^}]*\} \d+/);
        const ready = await fetch(`${agent.address}/readyz`);
        assert.equal(ready.status, 200, `local reporting works: ready (${await ready.clone().text()})`);
        assert.equal((await fetch(`${agent.address}/findings`)).status, 200);
      }
      assert.equal(patches(), 0);
      assert.ok(runs >= 15, `checks kept running: ${runs} runs of the disk check (every 30 s) in 15 minutes`);
      const warned = lines.filter((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("cannot write NodeConditions"));
      assert.equal(warned.length, 1, "one log line per outage, not one per attempt");
      const attempts = lines
        .filter((l) => typeof l["retryInMs"] === "number")
        .map((l) => ({ attempt: l["attempt"] as number, delay: l["retryInMs"] as number }));
      assert.ok(attempts.length >= 5 && attempts.length <= 30, `${attempts.length} attempts in 15 minutes`);
      for (const { attempt, delay } of attempts) assert.ok(delay <= Math.min(300_000, 1_000 * 2 ** (attempt - 1)), `attempt ${attempt}: ${delay} ms`);
      const early = attempts.slice(0, 3).reduce((a, b) => a + b.delay, 0) / 3;
      const late = attempts.slice(-3).reduce((a, b) => a + b.delay, 0) / 3;
      assert.ok(late > early, `backoff grows: ${early} → ${late}`);
      assert.ok(new Set(attempts.map((a) => a.delay)).size > attempts.length / 2, "jittered");

      api.setDown(false);
      await clock.advance(5 * MIN + 1_000, between); // at most one backoff cap
      assert.equal(patches(), 1, "the current state is written once when the API server returns");
      assert.ok(lines.some((l) => l["msg"] === "the API server answers again; NodeConditions are current"));
      const written = api.node("outage-1")?.status?.conditions?.find((c) => c.type === "DiskSpaceLow");
      assert.ok(written, "our condition is on the Node");
      // /metrics caches its exposition for a second of real time: read the registry itself.
      assert.match(await assembly.metrics.registry.metrics(), /node_doctor_apiserver_reachable\{node="outage-1"\} 1/);
    } finally {
      api.setDown(false);
      await agent.stop();
    }
  });

  it("honours Retry-After on a 429 even when the jittered backoff would retry at once", async () => {
    api.seedNode("throttled");
    api.fault({ verb: "patch", resource: "nodes/status", name: "throttled" }, { status: 429, retryAfterSeconds: 120, times: 1 });
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "throttled", random: () => 0 });
    const attempts = () => api.requestsTo({ verb: "patch", resource: "nodes/status", name: "throttled" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      assert.deepEqual(
        attempts().map((r) => r.status),
        [429],
      );
      await h.advance(118_000);
      assert.equal(attempts().length, 1, "nothing before Retry-After");
      await h.advance(2_000);
      assert.deepEqual(
        attempts().map((r) => r.status),
        [429, 200],
      );
    } finally {
      api.clearFaults();
      await h.stop();
    }
  });

  it("keeps trying after 401, 403, 500 and hung answers, and recovers without losing the state", async () => {
    api.seedNode("faulty");
    const disk = scriptedCheck("disk", "DiskSpaceLow", () => []);
    const h = await conditionsHarness(api, [disk], { nodeName: "faulty", random: () => 0.5, timeoutMs: 200 });
    const route = { verb: "patch" as const, resource: "nodes/status", name: "faulty" };
    try {
      api.fault(route, { status: 401, times: 1 });
      api.fault(route, { status: 403, times: 1 });
      api.fault(route, { status: 500, times: 1 });
      api.fault(route, { hang: true, times: 1 });
      void h.scheduler.start();
      for (let i = 0; i < 10; i++) await h.advance(10_000);
      assert.deepEqual(
        api.requestsTo(route).map((r) => r.status),
        [0, 500, 403, 401, 200],
      );
      assert.equal(api.node("faulty")?.status?.conditions?.find((c) => c.type === "DiskSpaceLow")?.status, "False");
    } finally {
      api.clearFaults();
      await h.stop();
    }
  });
});
