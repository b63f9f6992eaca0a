/**
 * The exposition renderer: the text format Prometheus parses, byte for byte
 * what the common Node.js client prints for the same series (escaping, label
 * order with default labels, histogram buckets, special values).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "../../src/telemetry/prometheus.js";
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

  it("collect() sets values at scrape time; remove and reset drop series; misuse is an error", async () => {
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
    assert.throws(() => gauge.set({ b: "z" }, 1), /label "b" is not one of a/);
    assert.throws(() => new Counter({ name: "t_c_total", help: "C.", registers: [registry] }).inc(-1), /cannot be decreased/);
    assert.throws(() => new Gauge({ name: "t_reads", help: "again", registers: [registry] }), /already been registered/);
    assert.throws(() => new Gauge({ name: "bad-name", help: "x" }), /invalid metric name/);
  });
});
