/**
 * The defaults docs/configuration.md and the chart's values.yaml state, rendered from the
 * configuration schema (src/config/config.ts and each check's settings), where each default
 * is declared once. The prose stays written by hand; the Default cells and the chart's
 * `config:` block are rewritten from the schema, and a key the page names that the schema
 * does not have, or a defaulted key the page leaves out, is an error.
 */
import type { Schema } from "../src/config/schema.js";

/** Every leaf key of a schema (dotted path) with its default, when it has one. */
export function schemaDefaults(schema: Schema<unknown>, prefix = ""): Map<string, { fallback?: unknown }> {
  const out = new Map<string, { fallback?: unknown }>();
  const shape = (schema as { shape?: Record<string, Schema<unknown>> }).shape;
  if (shape) {
    for (const [key, child] of Object.entries(shape))
      for (const [path, entry] of schemaDefaults(child, prefix ? `${prefix}.${key}` : key)) out.set(path, entry);
    return out;
  }
  out.set(prefix, "fallback" in schema ? { fallback: (schema as { fallback: unknown }).fallback } : {});
  return out;
}

/** A default as the page writes it: `600`, `true`, `/etc/crio/crio.conf`, `[a, b]`, `{}`. */
export function renderDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => String(v)).join(", ")}]`;
  if (value !== null && typeof value === "object") return Object.keys(value).length === 0 ? "{}" : JSON.stringify(value);
  return String(value);
}

/** The key prefix a heading gives its tables: "## `engine`" → "" (rows name full keys), "### `checks.disk`" → "checks.disk.". */
function prefixOf(heading: string): string | undefined {
  const match = /^###\s+`(checks\.[\w-]+)`/.exec(heading);
  if (match) return `${match[1]}.`;
  return /^##\s/.test(heading) ? "" : undefined;
}

/**
 * docs/configuration.md with every Default cell of a documented key rewritten from `defaults`.
 * A cell of a key without a default (prose like "kubelet's") is kept as written.
 */
export function renderConfigurationDoc(page: string, defaults: Map<string, { fallback?: unknown }>): string {
  let prefix = "";
  const documented = new Set<string>();
  const lines = page.split("\n").map((line, index) => {
    const heading = prefixOf(line);
    if (heading !== undefined) prefix = heading;
    const cells = /^\|(.*)\|$/.exec(line)?.[1]?.split(" | ");
    if (!cells || cells.length < 3 || !/^\s*`/.test(cells[0] ?? "")) return line;
    const keys = [...(cells[0] ?? "").matchAll(/`([^`]+)`/g)].map((m) => `${prefix}${m[1]}`);
    const entries = keys.map((key) => {
      const entry = defaults.get(key);
      if (!entry) throw new Error(`docs/configuration.md:${index + 1}: \`${key}\` is not a configuration key`);
      documented.add(key);
      return entry;
    });
    if (entries.every((entry) => "fallback" in entry)) cells[1] = `${entries.map((entry) => `\`${renderDefault(entry.fallback)}\``).join(" / ")}`;
    else if (entries.some((entry) => "fallback" in entry))
      throw new Error(`docs/configuration.md:${index + 1}: ${keys.join(", ")}: document a key with a default apart from one without`);
    return `|${cells.join(" | ")}|`;
  });
  const missing = [...defaults].filter(([key, entry]) => "fallback" in entry && !documented.has(key) && !UNDOCUMENTED.test(key)).map(([key]) => key);
  if (missing.length > 0) throw new Error(`docs/configuration.md does not document ${missing.map((k) => `\`${k}\``).join(", ")}`);
  return lines.join("\n");
}

/**
 * Keys with a default the page does not list row by row: every check's `enabled` (said once for
 * all), and the custom checks' list (custom-checks.md documents each probe's keys).
 */
const UNDOCUMENTED = /^checks\.[\w-]+\.enabled$|^checks\.custom$/;

/** The agent settings the chart's values.yaml shows under `config:`, the ones an operator sets most. */
export const CHART_CONFIG_KEYS = ["logLevel", "kubernetes.heartbeatSeconds", "kubernetes.events"];

/** values.yaml with its `config:` block rendered from the schema's defaults of CHART_CONFIG_KEYS (and `checks: {}`). */
export function renderValuesConfig(values: string, defaults: Map<string, { fallback?: unknown }>): string {
  const tree: Record<string, unknown> = {};
  for (const key of CHART_CONFIG_KEYS) {
    const entry = defaults.get(key);
    if (!entry || !("fallback" in entry)) throw new Error(`CHART_CONFIG_KEYS: ${key} has no default in the schema`);
    const parts = key.split(".");
    let node = tree;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts.at(-1) as string] = entry.fallback;
  }
  tree["checks"] = {};
  const render = (node: Record<string, unknown>, indent: string): string[] =>
    Object.entries(node).flatMap(([key, value]) =>
      value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0
        ? [`${indent}${key}:`, ...render(value as Record<string, unknown>, `${indent}  `)]
        : [`${indent}${key}: ${renderDefault(value)}`],
    );
  const block = ["config:", ...render(tree, "  ")].join("\n");
  const pattern = /^config:\n(?: {2}.*\n)*/m;
  if (!pattern.test(values)) throw new Error("values.yaml has no top-level config: block");
  return values.replace(pattern, `${block}\n`);
}
