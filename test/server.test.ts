/**
 * The HTTP endpoints, answered without the network and over a real socket. The exposition
 * is pinned by a golden file of metric families and label sets; regenerate it
 * with UPDATE_GOLDEN=1 when a change to the series is intended.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { Scheduler } from "../src/engine/scheduler.js";
import { NodeState } from "../src/engine/state.js";
import { RootedHost } from "../src/node/host.js";
import { createMetricsSink } from "../src/sinks/metrics/index.js";
import { buildServer, type AgentServer } from "../src/sinks/http/server.js";
import type { Check } from "../src/types.js";
import { silentLog } from "./support/check-context.js";
import { createJsonLog } from "../src/telemetry/log.js";

const quietLog = createJsonLog({ level: "error", write: () => undefined });
import { FakeClock } from "./support/fake-clock.js";
import { runTool } from "./support/tools.js";

const GOLDEN = new URL("./golden/metrics.txt", import.meta.url);

const diskCheck: Check = {
  name: "disk",
  conditions: ["DiskSpaceLow"],
  intervalMs: 30_000,
  timeoutMs: 1_000,
  run: async () => [
    {
      check: "disk",
      condition: "DiskSpaceLow",
      severity: "warning",
      reason: "NodeFsAvailableLow",
      message: "filesystem / has 12% available",
      evidence: { mountPoint: "/", roles: ["nodefs", "root"], availableBytes: 12, sizeBytes: 100, filesFree: 50, files: 100, readOnly: false },
    },
  ],
};

/** Families, label names and label values, without the sample values that vary run to run. */
function shape(exposition: string): string {
  return (
    exposition
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => (line.startsWith("#") ? line : line.replace(/ [^ ]+$/, "")))
      .map((line) => line.replace(/nodejs="v[\d.]+"/, 'nodejs="vX"').replace(/version="[^"]+"/, 'version="X"'))
      .join("\n") + "\n"
  );
}

describe("server", () => {
  let app: AgentServer;
  const get = (path: string) => app.respond("GET", path);
  let state: NodeState;
  let scheduler: Scheduler;
  const clock = new FakeClock();
  before(async () => {
    const metrics = createMetricsSink({ nodeName: "worker-1", version: "1.2.3", checkNames: ["disk"] });
    state = new NodeState([diskCheck], [metrics], { consecutiveRuns: 2, holdMs: 60_000, flapTransitions: 4, flapWindowMs: 600_000 }, silentLog);
    scheduler = new Scheduler([diskCheck], { host: new RootedHost("/"), clock, state, log: silentLog, logFor: () => silentLog, jitterRatio: 0 });
    app = buildServer({ registry: metrics.registry, state, nodeName: "worker-1", stuckChecks: () => scheduler.stuckChecks(), log: quietLog, version: "1.2.3" });
  });
  after(() => app.close());

  it("/readyz is 503 until the first round of checks is done, /healthz is always ok", async () => {
    const notReady = await get("/readyz");
    assert.equal(notReady.statusCode, 503);
    assert.match(notReady.body, /the first round of checks has not finished/);
    assert.equal((await get("/healthz")).statusCode, 200);
    await scheduler.runOnce();
    assert.equal((await get("/readyz")).statusCode, 200);
  });

  it("/findings serves conditions, check runs and findings as JSON", async () => {
    const body = JSON.parse((await get("/findings")).body) as {
      node: string;
      conditions: Array<{ type: string; status: string; reason: string }>;
      findings: unknown[];
    };
    assert.equal(body.node, "worker-1");
    assert.deepEqual(
      body.conditions.map((c) => [c.type, c.status, c.reason]),
      [["DiskSpaceLow", "False", "NodeFsAvailableLow"]],
    );
    assert.equal(body.findings.length, 1);
  });

  it("/metrics passes promtool check metrics", async () => {
    const response = await get("/metrics");
    assert.match(response.headers["content-type"] ?? "", /^text\/plain; version=0\.0\.4/);
    const result = await runTool("promtool", ["check", "metrics"], { input: response.body });
    assert.equal(result.code, 0, `promtool check metrics: ${result.stdout}${result.stderr}`);
  });

  it("/metrics matches the golden series shape", async () => {
    const actual = shape((await get("/metrics")).body);
    if (process.env["UPDATE_GOLDEN"] === "1") await writeFile(GOLDEN, actual);
    assert.equal(actual, await readFile(GOLDEN, "utf8"), "exposition changed: review, then regenerate with UPDATE_GOLDEN=1");
  });

  it("over a socket: keep-alive GET and HEAD, 404 naming the routes, 405 for writes, 503 once closing", async () => {
    const lines: Array<{ level: number; msg?: string }> = [];
    const server = buildServer({
      registry: createMetricsSink({ nodeName: "w", version: "1", checkNames: [] }).registry,
      state,
      nodeName: "w",
      stuckChecks: () => [],
      log: createJsonLog({ level: "info", write: (line) => lines.push(JSON.parse(line) as { level: number; msg?: string }) }),
      version: "1",
    });
    const url = await server.listen({ host: "127.0.0.1", port: 0 });
    try {
      assert.deepEqual(
        lines.map((l) => l.msg),
        ["serving"],
        "one line says where it listens, and no line is empty",
      );
      const metrics = await fetch(`${url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /node_doctor_build_info/);
      const head = await fetch(`${url}/healthz`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const missing = await fetch(`${url}/nope`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /routes: \/, \/metrics, \/healthz, \/readyz, \/findings/);
      const post = await fetch(`${url}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
    } finally {
      await server.close();
    }
    assert.equal((await server.respond("GET", "/healthz")).statusCode, 503);
  });
});

describe("/findings under a flood of findings", () => {
  it("10,000 stale foreign conditions: at most 1 MiB of valid JSON, the worst first, and how many were left out", async () => {
    // A Node with 10,000 stale foreign conditions once made a 14.7 MB /findings.
    const stale = (i: number) => ({
      check: "kubelet",
      condition: "KubeletUnhealthy" as const,
      severity: i === 9_999 ? ("critical" as const) : ("warning" as const),
      reason: i === 9_999 ? "KubeletNotRunning" : "StaleNodeCondition",
      message: `condition Foreign${i} was last heartbeated 400 days ago by a controller that no longer runs; ${"x".repeat(1200)}`,
      remedy: `kubectl patch node worker-1 --subresource=status --type=json -p '[{"op":"remove","path":"/status/conditions/${i}"}]'`,
    });
    // The engine keeps at most 100 findings per check (test/engine/findings-cap.test.ts); 100 checks of 100 each still reach 10,000.
    const floods: Check[] = Array.from({ length: 100 }, (_, k) => ({
      name: `flood-${k}`,
      conditions: ["KubeletUnhealthy"],
      intervalMs: 30_000,
      timeoutMs: 1_000,
      run: async () => Array.from({ length: 100 }, (_, j) => stale(k * 100 + j)),
    }));
    const state = new NodeState(floods, [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 4, flapWindowMs: 600_000 }, silentLog);
    const scheduler = new Scheduler(floods, {
      host: new RootedHost("/"),
      clock: new FakeClock(),
      state,
      log: silentLog,
      logFor: () => silentLog,
      jitterRatio: 0,
    });
    await scheduler.runOnce();
    const server = buildServer({
      registry: createMetricsSink({ nodeName: "worker-1", version: "1", checkNames: [] }).registry,
      state,
      nodeName: "worker-1",
      version: "1",
      stuckChecks: () => [],
      log: quietLog,
    });
    try {
      const response = await server.respond("GET", "/findings");
      assert.equal(response.statusCode, 200);
      assert.ok(Buffer.byteLength(response.body) <= 1024 * 1024, `${Buffer.byteLength(response.body)} bytes`);
      const body = JSON.parse(response.body) as { findings: Array<{ reason: string }>; truncated?: { findings: number; shown: number; reason: string } };
      assert.equal(body.findings[0]?.reason, "KubeletNotRunning", "the worst finding first");
      assert.equal(body.truncated?.findings, 10_000);
      assert.equal(body.truncated?.shown, body.findings.length);
      assert.ok(body.findings.length > 100 && body.findings.length < 10_000, `${body.findings.length} shown`);
      assert.match(body.truncated?.reason ?? "", /exceed 1048576 bytes/);
      // The status page shows the worst and points at the rest.
      const page = await server.respond("GET", "/");
      assert.ok(Buffer.byteLength(page.body) < 1024 * 1024);
      assert.match(page.body, /9800 more not shown/);
    } finally {
      await server.close();
    }
  });
});
