/**
 * The chart's schema for `customChecks` and `customPlugins`, generated from
 * the custom checks' own definitions (src/checks/custom/probes.ts), so that
 * `helm install` rejects what the agent would reject — an unknown kind, a
 * missing or unknown key, kubelet's or a built-in condition type, a bad
 * name, a template naming a field the probe lacks or calling anything — and
 * the two cannot drift. `npm run docs` writes it into values.schema.json.
 * What JSON Schema cannot say (a regex that does not compile, cross-field
 * rules) the agent says when it loads the configuration, naming the key.
 */
import { ACTIVE_STATES, COMMON_FIELDS, PROBE_FIELDS, UNIT_FILE_STATES, type ProbeKind } from "../src/checks/custom/probes.js";
import { CONDITION_TYPES, KUBELET_CONDITION_TYPES } from "../src/types.js";

type JsonSchema = Record<string, unknown>;

const string = (extra: JsonSchema = {}): JsonSchema => ({ type: "string", ...extra });
const number = (minimum: number, maximum: number, integer = false): JsonSchema => ({ type: integer ? "integer" : "number", minimum, maximum });
const strings = (item: JsonSchema = string(), maxItems = 64): JsonSchema => ({ type: "array", items: item, maxItems });
const absolutePath = string({ pattern: "^/" });
const pattern = string({
  minLength: 1,
  description: "A regular expression (JavaScript syntax); the agent compiles it at start and names the key if it does not.",
});
const reason = string({ pattern: "^[A-Z][A-Za-z0-9]{0,127}$" });
const octal = string({ pattern: "^0?[0-7]{3,4}$" });

function object(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: "object", additionalProperties: false, properties, ...(required.length ? { required } : {}) };
}

/** Text with {{.field}} only, for these fields (any field name when `fields` is undefined: a log probe's named groups). */
function template(fields: readonly string[] | undefined): JsonSchema {
  const name = fields ? `(${fields.join("|")})` : "[A-Za-z][A-Za-z0-9]*";
  return string({ minLength: 1, pattern: `^([^{]|\\{[^{]|\\{$|\\{\\{ *\\.${name} *\\}\\})*$` });
}

const PROBES: { readonly [K in ProbeKind]: JsonSchema } = {
  file: object(
    {
      path: absolutePath,
      exists: { type: "boolean" },
      matches: pattern,
      mode: octal,
      maxMode: octal,
      owner: { anyOf: [{ type: "integer", minimum: 0 }, string({ pattern: "^[A-Za-z_][A-Za-z0-9_.-]*[$]?$" })] },
      maxAgeSeconds: number(1, 10 * 365 * 86400),
    },
    ["path"],
  ),
  sysctl: object(
    {
      key: string({ pattern: "^[A-Za-z0-9_][A-Za-z0-9_.:@/-]*$" }),
      op: { enum: ["=", "!=", "<", "<=", ">", ">=", "in", "notIn"] },
      value: {
        anyOf: [
          { type: "string" },
          { type: "number" },
          { type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] }, minItems: 1, maxItems: 64 },
        ],
      },
    },
    ["key", "value"],
  ),
  unit: object(
    {
      unit: string({ pattern: "^[A-Za-z0-9:_.\\\\@-]+\\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$" }),
      activeState: strings({ enum: [...ACTIVE_STATES] }),
      subState: strings(string({ pattern: "^[a-z-]+$" }), 32),
      unitFileState: strings({ enum: [...UNIT_FILE_STATES] }),
      dbusSocket: absolutePath,
    },
    ["unit"],
  ),
  tcp: object(
    { host: string({ pattern: "^[A-Za-z0-9.:%_-]+$" }), port: number(1, 65535, true), expect: { enum: ["open", "closed"] }, timeoutSeconds: number(0.1, 600) },
    ["host", "port"],
  ),
  http: object(
    {
      url: string({ pattern: "^https?://[^/@\\s]+(/\\S*)?$" }),
      method: { enum: ["GET", "HEAD"] },
      expectStatus: { type: "array", minItems: 1, items: { oneOf: [{ type: "integer", minimum: 100, maximum: 599 }, string({ pattern: "^[1-5]xx$" })] } },
      bodyMatches: pattern,
      caFile: absolutePath,
      insecureSkipVerify: { type: "boolean" },
      timeoutSeconds: number(0.1, 600),
    },
    ["url"],
  ),
  "npd-plugin": object(
    {
      path: absolutePath,
      args: strings(),
      env: { type: "object", propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }, additionalProperties: string() },
      timeoutSeconds: number(0.1, 600),
      maxOutputBytes: number(80, 65536, true),
    },
    ["path"],
  ),
  log: object(
    {
      journalUnits: strings(string({ pattern: "^[\\w@:.\\\\-]+$" }), 16),
      kernel: { type: "boolean" },
      files: strings(absolutePath, 16),
      signatures: {
        type: "array",
        minItems: 1,
        maxItems: 32,
        items: object(
          {
            pattern,
            contains: strings(string({ pattern: "^[ !#-\\[\\]-`{-~]{2,}$" }), 16),
            minCount: number(1, 32, true),
            windowSeconds: number(1, 7 * 86400),
            clearedBy: pattern,
            severity: { enum: ["warning", "critical"] },
            reason,
          },
          ["pattern"],
        ),
      },
      noise: strings(pattern, 32),
      lookbackMinutes: number(0, 24 * 60),
    },
    ["signatures"],
  ),
};

function fieldsOf(kind: ProbeKind): string[] | undefined {
  return kind === "log" ? undefined : [...Object.keys(COMMON_FIELDS), ...Object.keys(PROBE_FIELDS[kind])];
}

export function customCheckSchema(): JsonSchema {
  const kinds = Object.keys(PROBES) as ProbeKind[];
  return {
    ...object(
      {
        name: string({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }),
        enabled: { type: "boolean" },
        intervalSeconds: number(1, 86400),
        timeoutSeconds: number(0.1, 3600),
        condition: {
          ...string({ pattern: "^[A-Z][A-Za-z0-9]{0,127}$" }),
          not: { enum: [...KUBELET_CONDITION_TYPES, ...CONDITION_TYPES] },
          description: "A condition type of your own: never kubelet's nor one of node-doctor's built-in ones.",
        },
        probe: { type: "object", required: ["kind"], properties: { kind: { enum: kinds } } },
        ok: { type: "object" },
        problem: { type: "object" },
      },
      ["name", "condition", "probe"],
    ),
    allOf: kinds.map((kind) => ({
      if: { type: "object", properties: { probe: { type: "object", properties: { kind: { const: kind } } } } },
      then: {
        properties: {
          probe: {
            ...(PROBES[kind] as { properties: JsonSchema }),
            properties: { kind: { const: kind }, ...((PROBES[kind] as { properties: JsonSchema }).properties ?? {}) },
          },
          ok: object({ reason, message: template(fieldsOf(kind)) }),
          problem: object({ severity: { enum: ["warning", "critical"] }, reason, message: template(fieldsOf(kind)), remedy: template(fieldsOf(kind)) }),
        },
      },
    })),
  };
}

/** The probe kinds and each one's settings, as the chart's schema lists them (the tests compare them with the agent's). */
export function chartProbeSettings(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(PROBES).map(([kind, schema]) => [kind, Object.keys((schema as { properties: JsonSchema }).properties)]));
}

/** values.schema.json with its customChecks and customPlugins properties as generated here. */
export function withCustomChecksSchema(valuesSchema: string): string {
  const schema = JSON.parse(valuesSchema) as { properties: Record<string, unknown> };
  schema.properties["customChecks"] = {
    type: "array",
    description: "Custom checks (docs/custom-checks.md), written to the agent's configuration as checks.custom.",
    maxItems: 64,
    items: customCheckSchema(),
  };
  schema.properties["customPlugins"] = {
    type: "object",
    description: "NPD custom-plugin scripts by file name, mounted executable at /etc/node-doctor/plugins/<name> for npd-plugin probes.",
    propertyNames: { pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$" },
    additionalProperties: string({ minLength: 2 }),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
