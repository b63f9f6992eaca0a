/**
 * The agent's metric types: prom-client's, under the import path every
 * metrics.ts uses. The one change: a metric goes only to the registries it
 * names (prom-client's default is its global registry, which the agent
 * never serves), so a metric built without `registers` is registered nowhere
 * instead of leaking into process-wide state.
 *
 * prom-client validates what the text format needs and a hand-written
 * renderer got wrong: metric and label names (`bad-name`, a histogram label
 * `le` throw at construction, i.e. at start-up), non-numeric values
 * (`set("5")` throws), `{n: 1}` and `{n: "1"}` are one series, and
 * `observe(NaN)` is refused instead of poisoning `_sum`. Its cost in the
 * bundled agent: docs/performance.md.
 */
import * as client from "prom-client";
import { errorText } from "../text/format.js";

export type LabelValues = client.LabelValues<string>;

export class Registry extends client.Registry {}

/** prom-client's construction errors do not say which metric or label: the start-up error should. */
function named(config: { name: string; labelNames?: readonly string[] }, error: unknown): Error {
  const labels = config.labelNames?.length ? ` (labels ${config.labelNames.map((l) => JSON.stringify(l)).join(", ")})` : "";
  return new Error(`metric ${JSON.stringify(config.name)}${labels}: ${errorText(error)}`, { cause: error });
}

export class Gauge<T extends string = string> extends client.Gauge<T> {
  constructor(config: client.GaugeConfiguration<T>) {
    try {
      super({ registers: [], ...config });
    } catch (error) {
      throw named(config, error);
    }
  }
}

export class Counter<T extends string = string> extends client.Counter<T> {
  constructor(config: client.CounterConfiguration<T>) {
    try {
      super({ registers: [], ...config });
    } catch (error) {
      throw named(config, error);
    }
  }
}

export class Histogram<T extends string = string> extends client.Histogram<T> {
  constructor(config: client.HistogramConfiguration<T>) {
    try {
      super({ registers: [], ...config });
    } catch (error) {
      throw named(config, error);
    }
  }
}

/**
 * Turns cumulative totals a check reports in its evidence into counter
 * increments: each call adds the difference since the last total of that
 * series. A smaller total means the check was rebuilt: what it has seen since
 * is added.
 */
export function cumulativeCounters(): (counter: Counter, labels: Record<string, string>, total: number) => void {
  const last = new Map<Counter, Map<string, number>>();
  return (counter, labels, total) => {
    let series = last.get(counter);
    if (!series) last.set(counter, (series = new Map()));
    const key = JSON.stringify(labels);
    const previous = series.get(key) ?? 0;
    const delta = total >= previous ? total - previous : total;
    if (delta > 0) counter.inc(labels, delta);
    series.set(key, total);
  };
}
