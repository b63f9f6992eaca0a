/**
 * Prometheus metric types and a registry rendering the text exposition format
 * (version 0.0.4): the part of prom-client's API node-doctor uses, with the
 * same output. prom-client itself loads cluster aggregation, summaries and
 * default collectors the agent never uses: 1–2 MiB of the bundled agent's
 * resident memory (measured A/B here), out of a 72 MiB budget.
 */

export type LabelValues = Record<string, string | number>;

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string | number): string {
  return typeof value === "string" ? escapeHelp(value).replace(/"/g, '\\"') : String(value);
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "Nan";
  if (!Number.isFinite(value)) return value < 0 ? "-Inf" : "+Inf";
  return `${value}`;
}

function formatLabels(labels: LabelValues): string[] {
  return Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
}

interface Sample {
  name: string;
  /** Rendered first, then the registry's default labels, then `shared`. */
  labels: LabelValues;
  shared?: LabelValues;
  value: number;
}

interface MetricConfig<M> {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: Registry[];
  /** Called before each render, with the metric as `this`, to set values read at scrape time. */
  collect?: (this: M) => void | Promise<void>;
}

abstract class Metric<Value> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "gauge" | "counter" | "histogram";
  protected readonly series = new Map<string, { labels: LabelValues; value: Value }>();
  private readonly collector: (() => void | Promise<void>) | undefined;

  constructor(config: MetricConfig<never>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new Error(`invalid metric name ${JSON.stringify(config.name)}`);
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    this.collector = config.collect ? (config.collect as (this: Metric<Value>) => void | Promise<void>).bind(this) : undefined;
    for (const registry of config.registers ?? []) registry.registerMetric(this);
  }

  /** The series key: label values in labelNames order; unknown labels are a programming error. */
  protected key(labels: LabelValues): string {
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name)) throw new Error(`${this.name}: label "${name}" is not one of ${this.labelNames.join(", ") || "(none)"}`);
    }
    return JSON.stringify(this.labelNames.map((name) => labels[name] ?? ""));
  }

  /** The value of a new series. */
  protected abstract zero(): Value;

  /** Drops every series; a metric without labels keeps its one series, at zero (as prom-client does). */
  reset(): void {
    this.series.clear();
    if (this.labelNames.length === 0) this.series.set(this.key({}), { labels: {}, value: this.zero() });
  }

  remove(labels: LabelValues): void {
    this.series.delete(this.key(labels));
  }

  async samples(): Promise<Sample[]> {
    await this.collector?.();
    return this.render();
  }

  protected abstract render(): Sample[];
}

function split(labelsOrValue: LabelValues | number | undefined, value: number | undefined, fallback: number): [LabelValues, number] {
  return typeof labelsOrValue === "object" ? [labelsOrValue, value ?? fallback] : [{}, labelsOrValue ?? fallback];
}

export class Gauge extends Metric<number> {
  readonly type = "gauge";
  constructor(config: MetricConfig<Gauge>) {
    super(config as MetricConfig<never>);
    this.reset();
  }

  protected zero(): number {
    return 0;
  }

  set(labelsOrValue: LabelValues | number, value?: number): void {
    const [labels, v] = split(labelsOrValue, value, 0);
    this.series.set(this.key(labels), { labels, value: v });
  }

  inc(labelsOrValue?: LabelValues | number, value?: number): void {
    const [labels, v] = split(labelsOrValue, value, 1);
    const key = this.key(labels);
    const current = this.series.get(key);
    this.series.set(key, { labels: current?.labels ?? labels, value: (current?.value ?? 0) + v });
  }

  protected render(): Sample[] {
    return [...this.series.values()].map((s) => ({ name: this.name, labels: s.labels, value: s.value }));
  }
}

export class Counter extends Metric<number> {
  readonly type = "counter";
  constructor(config: MetricConfig<Counter>) {
    super(config as MetricConfig<never>);
    this.reset();
  }

  protected zero(): number {
    return 0;
  }

  inc(labelsOrValue?: LabelValues | number, value?: number): void {
    const [labels, v] = split(labelsOrValue, value, 1);
    if (!(v >= 0)) throw new Error(`${this.name}: a counter cannot be decreased (inc ${v})`);
    const key = this.key(labels);
    const current = this.series.get(key);
    this.series.set(key, { labels: current?.labels ?? labels, value: (current?.value ?? 0) + v });
  }

  protected render(): Sample[] {
    return [...this.series.values()].map((s) => ({ name: this.name, labels: s.labels, value: s.value }));
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

/** prom-client's (and the Go client's) default buckets. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Metric<HistogramValue> {
  readonly type = "histogram";
  private readonly buckets: readonly number[];

  constructor(config: MetricConfig<Histogram> & { buckets?: readonly number[] }) {
    super(config as MetricConfig<never>);
    this.buckets = [...(config.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    this.reset();
  }

  protected zero(): HistogramValue {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labelsOrValue: LabelValues | number, value?: number): void {
    const [labels, v] = split(labelsOrValue, value, 0);
    const key = this.key(labels);
    const entry = this.series.get(key) ?? { labels, value: this.zero() };
    const index = this.buckets.findIndex((upper) => v <= upper);
    if (index >= 0) entry.value.counts[index] = (entry.value.counts[index] ?? 0) + 1;
    entry.value.sum += v;
    entry.value.count += 1;
    this.series.set(key, entry);
  }

  protected render(): Sample[] {
    const out: Sample[] = [];
    for (const { labels, value } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += value.counts[i] ?? 0;
        out.push({ name: `${this.name}_bucket`, labels: { le: upper }, shared: labels, value: cumulative });
      });
      out.push({ name: `${this.name}_bucket`, labels: { le: "+Inf" }, shared: labels, value: value.count });
      out.push({ name: `${this.name}_sum`, labels: {}, shared: labels, value: value.sum });
      out.push({ name: `${this.name}_count`, labels: {}, shared: labels, value: value.count });
    }
    return out;
  }
}

type AnyMetric = Gauge | Counter | Histogram;

export class Registry {
  readonly contentType = CONTENT_TYPE;
  private readonly metricsByName = new Map<string, AnyMetric>();
  private defaultLabels: LabelValues = {};

  setDefaultLabels(labels: LabelValues): void {
    this.defaultLabels = { ...labels };
  }

  registerMetric(metric: Metric<unknown>): void {
    const existing = this.metricsByName.get(metric.name);
    if (existing && existing !== metric) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.metricsByName.set(metric.name, metric as AnyMetric);
  }

  getSingleMetric(name: string): AnyMetric | undefined {
    return this.metricsByName.get(name);
  }

  clear(): void {
    this.metricsByName.clear();
    this.defaultLabels = {};
  }

  /** The exposition: families in registration order, series in the order they first appeared. */
  async metrics(): Promise<string> {
    const families = await Promise.all(
      [...this.metricsByName.values()].map(async (metric) => {
        const name = escapeHelp(metric.name);
        const lines = [`# HELP ${name} ${escapeHelp(metric.help)}`, `# TYPE ${name} ${metric.type}`];
        for (const sample of await metric.samples()) {
          const shared = sample.shared ?? {};
          // Own labels, then default labels the series does not set itself, then the histogram's series labels.
          const own = { ...sample.labels, ...this.defaultLabels, ...sample.labels };
          const parts = [...formatLabels(Object.fromEntries(Object.entries(own).filter(([k]) => !(k in shared)))), ...formatLabels(shared)];
          lines.push(`${sample.name}${parts.length ? `{${parts.join(",")}}` : ""} ${formatValue(sample.value)}`);
        }
        return lines.join("\n");
      }),
    );
    return `${families.join("\n\n")}\n`;
  }
}
