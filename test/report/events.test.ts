/**
 * Events on the Node: one per condition transition, none on heartbeats,
 * aggregated when the same reason comes back, and rate-limited so a flapping
 * check cannot spam the API server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildEvent, EventsSink } from "../../src/sinks/events.js";
import type { ConditionState, Severity, StateView, Transition } from "../../src/types.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { conditionsHarness, finding, RecordingLog, scriptedCheck } from "../support/conditions-harness.js";
import { FakeClock } from "../support/fake-clock.js";
import { kubeClientFor } from "../support/kube.js";

const MIN = 60_000;

function transition(severity: Severity, reason: string, atMs: number, from?: ConditionState): Transition {
  const to: ConditionState = {
    type: "KubeletUnhealthy",
    status: severity === "critical" ? "True" : severity === "unknown" ? "Unknown" : "False",
    severity,
    reason,
    message: `kubelet ${reason}`,
    remedy: "systemctl restart kubelet",
    sinceMs: atMs,
    flapping: false,
    findings: [],
  };
  return { condition: "KubeletUnhealthy", ...(from ? { from } : {}), to, atMs };
}

const noState = {} as StateView;

describe("Events sink", () => {
  let api: FakeApiServer;
  before(async () => {
    api = await FakeApiServer.start();
  });
  after(() => api.close());

  it("posts one Event per transition (Warning into a problem, Normal on recovery) and none on heartbeats", async () => {
    api.seedNode("ev-1");
    let sick = false;
    const kubelet = scriptedCheck("kubelet", "KubeletUnhealthy", () =>
      sick
        ? [
            finding(
              "KubeletUnhealthy",
              "critical",
              "KubeletNotRunning",
              "no kubelet process; the unit is inactive (dead) and disabled",
              "systemctl enable --now kubelet",
            ),
          ]
        : [],
    );
    const h = await conditionsHarness(api, [kubelet], { nodeName: "ev-1" });
    try {
      void h.scheduler.start();
      await h.advance(2_000);
      assert.equal(api.storedEvents("ev-1").length, 0, "a healthy start says nothing");
      sick = true;
      await h.advance(60_000);
      sick = false;
      await h.advance(60_000);
      await h.advance(30 * MIN); // heartbeats only
      const events = api.storedEvents("ev-1");
      assert.deepEqual(
        events.map((e) => [e.type, e.reason]),
        [
          ["Warning", "KubeletNotRunning"],
          ["Normal", "KubeletHealthy"],
        ],
      );
      const [warning] = events;
      assert.equal(warning?.metadata.namespace, "default");
      assert.deepEqual(warning?.involvedObject, { kind: "Node", apiVersion: "v1", name: "ev-1", uid: "ev-1" });
      assert.equal(warning?.source?.component, "node-doctor");
      assert.equal(warning?.source?.host, "ev-1");
      assert.equal(warning?.count, 1);
      assert.match(warning?.message ?? "", /^KubeletUnhealthy=True: no kubelet process.* Remedy: systemctl enable --now kubelet$/);
      assert.ok(h.patches() >= 4, "conditions were written meanwhile (transitions and heartbeats)");
    } finally {
      await h.stop();
    }
  });

  it("aggregates the same reason within 10 minutes into the earlier Event (count, lastTimestamp)", async () => {
    api.seedNode("ev-2");
    const clock = new FakeClock(Date.now());
    const { client, close } = await kubeClientFor(api);
    const sink = new EventsSink({ api: client, nodeName: "ev-2", clock, log: new RecordingLog() });
    try {
      const down = transition("critical", "KubeletHealthzFailing", clock.now());
      sink.onTransitions([down], noState);
      await sink.idle();
      await clock.advance(3 * MIN);
      sink.onTransitions([transition("ok", "KubeletHealthy", clock.now(), down.to)], noState);
      await clock.advance(3 * MIN);
      sink.onTransitions([transition("critical", "KubeletHealthzFailing", clock.now(), down.to)], noState);
      await sink.idle();
      const warnings = api.storedEvents("ev-2").filter((e) => e.type === "Warning");
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.count, 2);
      assert.ok(Date.parse(warnings[0]?.lastTimestamp ?? "") > Date.parse(warnings[0]?.firstTimestamp ?? ""));
      assert.equal(api.requestsTo({ verb: "patch", resource: "events" }).length, 1);
      await clock.advance(11 * MIN);
      sink.onTransitions([transition("critical", "KubeletHealthzFailing", clock.now())], noState);
      await sink.idle();
      assert.equal(api.storedEvents("ev-2").filter((e) => e.type === "Warning").length, 2, "outside the window: a new Event");
    } finally {
      await sink.close();
      close();
    }
  });

  it("holds a per-reason rate limit: 40 transitions in 10 minutes write at most burst + refills", async () => {
    api.seedNode("ev-3");
    const clock = new FakeClock(Date.now());
    const { client, close } = await kubeClientFor(api);
    const sink = new EventsSink({ api: client, nodeName: "ev-3", clock, log: new RecordingLog() });
    const writesBefore = api.requestsTo({ resource: "events" }).filter((r) => r.verb !== "list").length;
    try {
      const sick = transition("critical", "KubeletHealthzFailing", clock.now());
      for (let i = 0; i < 40; i++) {
        sink.onTransitions(
          [i % 2 === 0 ? transition("critical", "KubeletHealthzFailing", clock.now(), sick.to) : transition("ok", "KubeletHealthy", clock.now(), sick.to)],
          noState,
        );
        await sink.idle();
        await clock.advance(15_000);
      }
      const writes = api.requestsTo({ resource: "events" }).filter((r) => r.verb !== "list").length - writesBefore;
      // Two reasons, each: burst 5 + one token per 5 min over 10 min = 7.
      assert.ok(writes <= 14, `${writes} Event writes`);
      assert.equal(sink.counts.suppressed, 40 - writes, JSON.stringify(sink.counts));
      assert.ok(api.storedEvents("ev-3").length <= 4, "the rest aggregated into earlier Events");
    } finally {
      await sink.close();
      close();
    }
  });

  it("pauses after a failed write instead of pressing an API server that errors", async () => {
    api.seedNode("ev-4");
    const clock = new FakeClock(Date.now());
    const { client, close } = await kubeClientFor(api);
    const log = new RecordingLog();
    const sink = new EventsSink({ api: client, nodeName: "ev-4", clock, log });
    api.fault({ resource: "events", verb: "create" }, { status: 429, retryAfterSeconds: 90, times: 1 });
    try {
      sink.onTransitions([transition("critical", "KubeletNotRunning", clock.now())], noState);
      await sink.idle();
      await clock.advance(60_000);
      sink.onTransitions([transition("critical", "KubeletHealthzFailing", clock.now())], noState);
      await sink.idle();
      assert.deepEqual(sink.counts, { created: 0, aggregated: 0, suppressed: 1, failed: 1 });
      await clock.advance(31_000);
      sink.onTransitions([transition("critical", "KubeletHealthzFailing", clock.now())], noState);
      await sink.idle();
      assert.equal(sink.counts.created, 1);
      assert.ok(log.lines.some((l) => l.level === "warn" && /could not post an Event/.test(l.message)));
    } finally {
      api.clearFaults();
      await sink.close();
      close();
    }
  });
});

describe("Event objects", () => {
  it("a time corrected by a fractional clock offset still names the Event (client-go style, <node>.<hex>)", () => {
    const event = buildEvent({
      nodeName: "node-1",
      condition: "ClockSkewed",
      reason: "ApiServerOffsetHigh",
      message: "m",
      type: "Warning",
      nowMs: 1795613664523.5,
      seq: 7,
    });
    assert.match(event.metadata.name, /^node-1\.[0-9a-f]+$/);
    assert.match(event.firstTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});
