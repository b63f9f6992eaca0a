/**
 * The metric types (prom-client's) and what the agent relies on them for: the
 * text format Prometheus parses (escaping, default labels, histogram buckets,
 * special values), no global registry, and misuse refused where it is made —
 * at start-up for names, at the update for values — never a broken scrape.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as client from "prom-client";
import { Counter, Gauge, Histogram, Registry } from "../../src/telemetry/prometheus.js";
import { createMetricsSink } from "../../src/sinks/metrics/index.js";
import type { CheckRun, StateView } from "../../src/types.js";
import { runTool } from "../support/tools.js";

describe("Prometheus exposition", () => {
  it("renders gauges, counters and histograms with the node label, escaped, and passes promtool", async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ node: "worker-1" });
    const gauge = new Gauge({ name: "t_level", help: "A gauge\nwith \\ a newline.", labelNames: ["path"], registers: [registry] });
    gauge.set({ path: 'C:\\dir "quoted"\nnext' }, 1.5);
    gauge.set({ path: "/inf" }, Infinity);
    gauge.set({ path: "/nan" }, NaN);
    const counter = new Counter({ name: "t_events_total", help: "Events.", labelNames: ["type"], registers: [registry] });
    counter.inc({ type: "a" });
    counter.inc({ type: "a" }, 2);
    const plain = new Counter({ name: "t_plain_total", help: "Starts at zero.", registers: [registry] });
    const histogram = new Histogram({ name: "t_seconds", help: "Durations.", labelNames: ["check"], buckets: [0.1, 1], registers: [registry] });
    histogram.observe({ check: "disk" }, 0.05);
    histogram.observe({ check: "disk" }, 3);
    assert.equal(
      await registry.metrics(),
      [
        "# HELP t_level A gauge\\nwith \\\\ a newline.",
        "# TYPE t_level gauge",
        't_level{path="C:\\\\dir \\"quoted\\"\\nnext",node="worker-1"} 1.5',
        't_level{path="/inf",node="worker-1"} +Inf',
        't_level{path="/nan",node="worker-1"} Nan',
        "",
        "# HELP t_events_total Events.",
        "# TYPE t_events_total counter",
        't_events_total{type="a",node="worker-1"} 3',
        "",
        "# HELP t_plain_total Starts at zero.",
        "# TYPE t_plain_total counter",
        't_plain_total{node="worker-1"} 0',
        "",
        "# HELP t_seconds Durations.",
        "# TYPE t_seconds histogram",
        't_seconds_bucket{le="0.1",node="worker-1",check="disk"} 1',
        't_seconds_bucket{le="1",node="worker-1",check="disk"} 1',
        't_seconds_bucket{le="+Inf",node="worker-1",check="disk"} 2',
        't_seconds_sum{node="worker-1",check="disk"} 3.05',
        't_seconds_count{node="worker-1",check="disk"} 2',
        "",
      ].join("\n"),
    );
    plain.inc();
    const promtool = await runTool("promtool", ["check", "metrics"], { input: (await registry.metrics()).replace(/.*Nan\n/, "") });
    assert.equal(promtool.code, 0, promtool.stdout + promtool.stderr);
  });

  it("collect() sets values at scrape time; remove and reset drop series", async () => {
    const registry = new Registry();
    let reads = 0;
    new Gauge({
      name: "t_reads",
      help: "Reads.",
      registers: [registry],
      collect() {
        this.set(++reads);
      },
    });
    assert.match(await registry.metrics(), /t_reads 1\n/);
    assert.match(await registry.metrics(), /t_reads 2\n/);
    const gauge = new Gauge({ name: "t_labelled", help: "L.", labelNames: ["a"], registers: [registry] });
    gauge.set({ a: "x" }, 1);
    gauge.set({ a: "y" }, 2);
    gauge.remove({ a: "x" });
    assert.doesNotMatch(await registry.metrics(), /a="x"/);
    gauge.reset();
    assert.doesNotMatch(await registry.metrics(), /t_labelled\{/);
  });

  it("a label value given as a number or as its string is one series", async () => {
    const registry = new Registry();
    const gauge = new Gauge({ name: "t_n", help: "N.", labelNames: ["n"], registers: [registry] });
    gauge.set({ n: 1 }, 1);
    gauge.set({ n: "1" }, 2);
    assert.deepEqual(
      (await registry.metrics()).split("\n").filter((l) => l.startsWith("t_n{")),
      ['t_n{n="1"} 2'],
    );
  });

  it("invalid names are refused when the metric is made; non-numeric values when they are set", () => {
    const registry = new Registry();
    assert.throws(() => new Gauge({ name: "bad-name", help: "x" }), /Invalid metric name/);
    assert.throws(() => new Gauge({ name: "t_ok", help: "x", labelNames: ["bad-name"] }), /Invalid label name/);
    assert.throws(() => new Histogram({ name: "t_h", help: "x", labelNames: ["le"] }), /le is a reserved label keyword/);
    const gauge = new Gauge({ name: "t_g", help: "x", labelNames: ["a"], registers: [registry] });
    // @ts-expect-error a label the metric does not declare
    assert.throws(() => gauge.set({ b: "z" }, 1), /not included in initial labelset/);
    // @ts-expect-error a string where a number belongs (values read from a file or a reply)
    assert.throws(() => gauge.set({ a: "x" }, "5"), /Value is not a valid number/);
    const histogram = new Histogram({ name: "t_seconds", help: "x", registers: [registry] });
    assert.throws(() => histogram.observe(NaN), /Value is not a valid number/);
    assert.throws(() => new Counter({ name: "t_c_total", help: "C." }).inc(-1), /not possible to decrease/);
    assert.throws(() => new Gauge({ name: "t_g", help: "again", registers: [registry] }), /already been registered/);
  });

  it("nothing lands in prom-client's global registry", async () => {
    const before = (await client.register.getMetricsAsJSON()).length;
    new Gauge({ name: "t_unregistered", help: "x" }).set(1);
    createMetricsSink({ nodeName: "w", version: "1", checkNames: ["disk", "certificates", "clock", "runtime", "kubelet-logs"] });
    assert.equal((await client.register.getMetricsAsJSON()).length, before);
  });

  it("a check's series with an invalid label fail the start naming the check; a bad value costs only that check's series", async () => {
    assert.throws(
      () =>
        createMetricsSink({
          nodeName: "w",
          version: "1",
          checkNames: ["broken"],
          metricsOf: () => (registry) => {
            new Gauge({ name: "t_broken", help: "x", labelNames: ["mount-point"], registers: [registry] });
            return { update() {} };
          },
        }),
      /^Error: the broken check.s metrics: metric "t_broken" \(labels "mount-point"\): Invalid label name/,
    );

    let gauge: Gauge | undefined;
    const sink = createMetricsSink({
      nodeName: "w",
      version: "1",
      checkNames: ["odd"],
      metricsOf: () => (registry) => {
        gauge = new Gauge({ name: "t_odd", help: "x", registers: [registry] });
        return { update: (findings) => gauge?.set(findings[0]?.evidence?.["value"] as number) };
      },
    });
    const run: CheckRun = {
      check: "odd",
      outcome: "ok",
      startedAtMs: 0,
      durationMs: 1,
      findings: [{ check: "odd", condition: "DiskSpaceLow", severity: "ok", reason: "Fine", message: "fine", evidence: { value: "5" } }],
    };
    const state = { conditions: () => [], runs: () => [run] } as unknown as StateView;
    assert.throws(() => sink.onCheckRun?.(run, state), /the odd check's metrics: Value is not a valid number: 5/);
    const text = await sink.registry.metrics();
    assert.match(text, /node_doctor_check_success\{check="odd",node="w"\} 1/);
    const promtool = await runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(promtool.code, 0, promtool.stdout + promtool.stderr);
  });
});
