/**
 * The probes a custom check can run, each as data: its settings schema and the
 * fields its templates may name. One probe per check; `kind` picks it.
 */
import {
  absolutePath,
  boolean,
  ConfigError,
  describeValue,
  list,
  number,
  object,
  oneOf,
  optional,
  record,
  refine,
  regex,
  string,
  union,
  withDefault,
  type Schema,
} from "../../config/schema.js";
import { DEFAULT_SYSTEM_BUS_SOCKET } from "../../node/systemd.js";
import { LITERAL_CHAR, namedGroups, requiredLiterals } from "../../text/regex.js";

/** A reason as Kubernetes and node-doctor write them: CamelCase. */
const REASON_NAME = /^[A-Z][A-Za-z0-9]{0,127}$/;

export const reasonName = () =>
  string({ check: (v) => (REASON_NAME.test(v) ? undefined : `must be a CamelCase reason (NfsMountMissing), got ${JSON.stringify(v)}`) });

/** Fields every probe's templates may name. */
export const COMMON_FIELDS = {
  name: "the check's name",
  condition: "the check's condition type",
  kind: "the probe's kind",
  detail: "one sentence saying what the probe found (the default message)",
} as const;

/** A permission mode written as octal text ("0600"): YAML reads a bare 0600 as the decimal number 600. */
function octalMode(): Schema<number> {
  return {
    expected: 'an octal mode in quotes ("0600")',
    parse(value, key) {
      if (typeof value === "number") {
        throw new ConfigError(key, `write the mode in quotes, e.g. "0${value.toString().padStart(3, "0")}": YAML reads a bare ${value} as a decimal number`);
      }
      if (typeof value !== "string" || !/^0?[0-7]{3,4}$/.test(value))
        throw new ConfigError(key, `expected an octal mode such as "0600", got ${describeValue(value)}`);
      return Number.parseInt(value, 8);
    },
  };
}

/** A user: a uid, or a name looked up in the node's /etc/passwd. */
function owner(): Schema<number | string> {
  return {
    expected: "a uid or a user name",
    parse(value, key) {
      if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
      if (typeof value === "string" && /^[a-z_][a-z0-9_.-]*\$?$/i.test(value)) return /^\d+$/.test(value) ? Number(value) : value;
      throw new ConfigError(key, `expected a uid (0) or a user name (root), got ${describeValue(value)}`);
    },
  };
}

/** A string or a number, as text: sysctl values are text (`net.ipv4.ip_local_port_range = "32768 60999"`). */
function scalarOrList(): Schema<string[]> {
  const one = (value: unknown, key: string): string => {
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    if (typeof value === "string" && value.trim() !== "") return value.trim().replace(/\s+/g, " ");
    throw new ConfigError(key, `expected a value (a number or a string), got ${describeValue(value)}`);
  };
  return {
    expected: "a value or a list of values",
    parse(value, key) {
      if (Array.isArray(value)) {
        if (value.length === 0) throw new ConfigError(key, "must list at least one value");
        if (value.length > 64) throw new ConfigError(key, `has ${value.length} values, at most 64 allowed`);
        return value.map((v, i) => one(v, `${key}[${i}]`));
      }
      return [one(value, key)];
    },
  };
}

/** HTTP statuses: codes (200) or classes ("2xx"), as inclusive ranges. */
function statuses(): Schema<Array<[number, number]>> {
  return {
    expected: 'a list of HTTP statuses (200, "2xx")',
    parse(value, key) {
      if (!Array.isArray(value) || value.length === 0)
        throw new ConfigError(key, `expected a list of HTTP statuses such as [200, "3xx"], got ${describeValue(value)}`);
      return value.map((entry, i) => {
        if (typeof entry === "number" && Number.isInteger(entry) && entry >= 100 && entry <= 599) return [entry, entry] as [number, number];
        const cls = typeof entry === "string" ? /^([1-5])xx$/i.exec(entry) : null;
        if (cls) return [Number(cls[1]) * 100, Number(cls[1]) * 100 + 99] as [number, number];
        throw new ConfigError(`${key}[${i}]`, `expected a status (100–599) or a class ("2xx"), got ${describeValue(entry)}`);
      });
    },
  };
}

const SYSCTL_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]*(\/[A-Za-z0-9_.:@-]+)*$/;
const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;

/** systemd's ActiveState values (systemd's unit_active_state_table). */
export const ACTIVE_STATES = ["active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "refreshing"] as const;
/** systemd's UnitFileState values (unit_file_state_table). */
export const UNIT_FILE_STATES = [
  "enabled",
  "enabled-runtime",
  "linked",
  "linked-runtime",
  "alias",
  "masked",
  "masked-runtime",
  "static",
  "disabled",
  "invalid",
  "indirect",
  "generated",
  "transient",
  "bad",
] as const;

/** A probe's own deadline: a fact about the endpoint when it passes, unlike the check's timeout (could not look). */
const probeTimeout = (fallback: number) => withDefault(number({ min: 0.1, max: 600 }), fallback);

const fileProbe = refine(
  object({
    path: string({ check: absolutePath }),
    /** Expect the path to exist (true) or to be absent (false). */
    exists: withDefault(boolean(), true),
    /** The content must match (read up to 1 MiB). */
    matches: optional(regex()),
    /** Exactly these permission bits. */
    mode: optional(octalMode()),
    /** No permission bit beyond these ("0644": not group- or world-writable). */
    maxMode: optional(octalMode()),
    owner: optional(owner()),
    /** Modified within this many seconds (a heartbeat file, a backup's stamp). */
    maxAgeSeconds: optional(number({ min: 1, max: 10 * 365 * 86400 })),
  }),
  (probe) => {
    if (probe.exists) return undefined;
    for (const key of ["matches", "mode", "maxMode", "owner", "maxAgeSeconds"] as const) {
      if (probe[key] !== undefined) return [key, "means nothing with exists: false (the path must be absent)"];
    }
    return undefined;
  },
);

const sysctlProbe = refine(
  object({
    /** Dotted (net.ipv4.ip_forward) or as a path under /proc/sys (net/ipv4/conf/eth0.100/rp_filter). */
    key: string({ check: (v) => (SYSCTL_KEY.test(v) && !v.split(/[./]/).includes("..") ? undefined : `is not a sysctl name: ${JSON.stringify(v)}`) }),
    op: withDefault(oneOf("=", "!=", "<", "<=", ">", ">=", "in", "notIn"), "="),
    value: scalarOrList(),
  }),
  (probe) => {
    const many = probe.op === "in" || probe.op === "notIn";
    if (many) return undefined;
    if (probe.value.length !== 1) return ["value", `op ${probe.op} compares with one value; use op: in for a set`];
    if (["<", "<=", ">", ">="].includes(probe.op) && !Number.isFinite(Number(probe.value[0]))) {
      return ["value", `op ${probe.op} compares numbers, got ${JSON.stringify(probe.value[0])}`];
    }
    return undefined;
  },
);

const unitProbe = refine(
  object({
    unit: string({
      check: (v) =>
        UNIT_NAME.test(v) ? undefined : `expected a systemd unit name with its type (containerd.service, mnt-data.mount), got ${JSON.stringify(v)}`,
    }),
    /** Acceptable ActiveStates; [] does not look at it. */
    activeState: withDefault(list(oneOf(...ACTIVE_STATES), { maxItems: ACTIVE_STATES.length }), ["active"]),
    /** Acceptable SubStates ("running", "mounted", "listening" …). */
    subState: optional(list(string({ check: (v) => (/^[a-z-]+$/.test(v) ? undefined : `is not a systemd SubState: ${JSON.stringify(v)}`) }), { maxItems: 32 })),
    /** Acceptable UnitFileStates ("enabled", "static" …). */
    unitFileState: optional(list(oneOf(...UNIT_FILE_STATES), { maxItems: UNIT_FILE_STATES.length })),
    /** The host's system bus socket (a node path); without it the unit is judged from its files and cgroup. */
    dbusSocket: withDefault(string({ check: absolutePath }), DEFAULT_SYSTEM_BUS_SOCKET),
  }),
  (probe) =>
    probe.activeState.length === 0 && !probe.subState?.length && !probe.unitFileState?.length
      ? ["activeState", "is empty and no subState or unitFileState is given: the probe would check nothing"]
      : undefined,
);

const tcpProbe = object({
  host: string({ check: (v) => (/^[A-Za-z0-9.:%_-]+$/.test(v) ? undefined : `expected a host name or an IP address, got ${JSON.stringify(v)}`) }),
  port: number({ integer: true, min: 1, max: 65535 }),
  /** Expect a connection to be accepted (open) or refused (closed: nothing may listen there). */
  expect: withDefault(oneOf("open", "closed"), "open"),
  timeoutSeconds: probeTimeout(3),
});

function httpUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a URL: ${JSON.stringify(value)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be an http:// or https:// URL, got ${url.protocol}`;
  if (url.username || url.password) return "must not carry credentials (the configuration is a ConfigMap, readable by many)";
  return undefined;
}

const httpProbe = refine(
  object({
    url: string({ check: httpUrl }),
    method: withDefault(oneOf("GET", "HEAD"), "GET"),
    /** Acceptable statuses; redirects are not followed. */
    expectStatus: withDefault<Array<[number, number]>>(statuses(), [[200, 399]]),
    /** The body (its first 64 KiB) must match. */
    bodyMatches: optional(regex()),
    /** CA bundle (a node path) that signs the endpoint's certificate; default: Node.js's bundled CAs. */
    caFile: optional(string({ check: absolutePath })),
    insecureSkipVerify: withDefault(boolean(), false),
    timeoutSeconds: probeTimeout(5),
  }),
  (probe) => {
    if (probe.method === "HEAD" && probe.bodyMatches) return ["bodyMatches", "needs a body: use method GET"];
    if (probe.url.startsWith("http:") && (probe.caFile || probe.insecureSkipVerify))
      return ["url", "is plain http: caFile and insecureSkipVerify apply to https only"];
    return undefined;
  },
);

/** NPD's own bound of what it reads from a plugin (maxCustomPluginBufferBytes); NPD then cuts the message at 80 characters. */
export const DEFAULT_PLUGIN_OUTPUT_BYTES = 4096;

const npdPluginProbe = object({
  /** The script or binary, a path in node-doctor's own container (a ConfigMap mount), not under hostRoot. */
  path: string({ check: absolutePath }),
  args: withDefault(list(string(), { maxItems: 64 }), []),
  /** Extra environment for the plugin, beside PATH, NODE_NAME and NODE_DOCTOR_HOST_ROOT. */
  env: optional(record(string(), (k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? undefined : `is not an environment variable name`))),
  timeoutSeconds: probeTimeout(5),
  /** Bytes of stdout kept for the message (NPD keeps 80 characters). */
  maxOutputBytes: withDefault(number({ integer: true, min: 80, max: 65536 }), DEFAULT_PLUGIN_OUTPUT_BYTES),
});

/** A systemd unit name as journalctl matches it. */
const journalUnit = () => string({ check: (v) => (/^[\w@:.\\-]+$/.test(v) ? undefined : `${JSON.stringify(v)} is not a systemd unit name`) });

const logSignature = refine(
  object({
    pattern: regex(),
    /**
     * Lowercase text every matching line contains, tried before the pattern (the engine's hot path, and what a
     * flood keeps); by default the pattern's longest literal.
     */
    contains: optional(
      list(
        string({
          check: (v) =>
            v.length >= 2 && v === v.toLowerCase() && [...v].every((c) => LITERAL_CHAR.test(c))
              ? undefined
              : `must be lowercase ASCII text of 2 characters or more, without quotes or backslashes, got ${JSON.stringify(v)}`,
        }),
        { maxItems: 16 },
      ),
    ),
    /** A finding needs this many matching lines within windowSeconds… */
    minCount: withDefault(number({ integer: true, min: 1, max: 32 }), 1),
    /** …and clears when the window passes without one. */
    windowSeconds: withDefault(number({ min: 1, max: 7 * 86400 }), 600),
    /** A line that means it is over: clears the signature at once. */
    clearedBy: optional(regex()),
    /** Default: the check's problem.severity and problem.reason. */
    severity: optional(oneOf("warning", "critical")),
    reason: optional(reasonName()),
  }),
  (signature) => {
    if (!signature.contains && !requiredLiterals(signature.pattern.source)) {
      return [
        "contains",
        `is needed: /${signature.pattern.source}/ has no literal text of 3 characters every match must contain (list the lowercase words a matching line always has)`,
      ];
    }
    if (signature.clearedBy && !requiredLiterals(signature.clearedBy.source)) {
      return ["clearedBy", `/${signature.clearedBy.source}/ has no literal text of 3 characters every match must contain; make it more specific`];
    }
    return undefined;
  },
);

const logProbe = refine(
  object({
    /** Journal units whose lines are read (the agent's one journalctl reader). */
    journalUnits: withDefault(list(journalUnit(), { maxItems: 16 }), []),
    /** The kernel's messages, from the journal. */
    kernel: withDefault(boolean(), false),
    /** Plain files (node paths), followed across rotation and truncation. */
    files: withDefault(list(string({ check: absolutePath }), { maxItems: 16 }), []),
    signatures: list(logSignature, { maxItems: 32 }),
    /** Lines never to count, whatever they match. */
    noise: withDefault(list(regex(), { maxItems: 32 }), []),
    /** Where reading starts when the agent starts: now minus this. */
    lookbackMinutes: withDefault(number({ min: 0, max: 24 * 60 }), 10),
  }),
  (probe) => {
    if (probe.journalUnits.length === 0 && !probe.kernel && probe.files.length === 0)
      return ["journalUnits", "no source: name journalUnits, files, or kernel: true"];
    if (probe.signatures.length === 0) return ["signatures", "must list at least one signature"];
    const noisy = probe.noise.findIndex((n) => !requiredLiterals(n.source));
    if (noisy >= 0)
      return [`noise[${noisy}]`, `/${probe.noise[noisy]?.source}/ has no literal text of 3 characters every match must contain; make it more specific`];
    return undefined;
  },
);

/** The fields of a log probe: the engine's, and every named group of its signatures' patterns. */
export function logFields(probe: { signatures: ReadonlyArray<{ pattern: RegExp }> }): string[] {
  return [...new Set(probe.signatures.flatMap((s) => namedGroups(s.pattern.source)))];
}

export const probeSettings = union("kind", {
  file: fileProbe,
  sysctl: sysctlProbe,
  unit: unitProbe,
  tcp: tcpProbe,
  http: httpProbe,
  "npd-plugin": npdPluginProbe,
  log: logProbe,
});

export type ProbeSettings = ReturnType<typeof probeSettings.parse>;
export type ProbeKind = ProbeSettings["kind"];
export type ProbeOf<K extends ProbeKind> = Extract<ProbeSettings, { kind: K }>;

/** The fields each probe gives its templates, beside COMMON_FIELDS; docs/custom-checks.md lists them (a test keeps it so). */
export const PROBE_FIELDS: { readonly [K in ProbeKind]: Readonly<Record<string, string>> } = {
  file: {
    path: "the path",
    exists: '"true" or "false"',
    mode: "its permission bits, octal (0644)",
    owner: "its owner's uid",
    size: "its size in bytes",
    age: "how long ago it was modified (3h12m)",
    ageSeconds: "the same in seconds",
    match: "the text `matches` found (up to 200 characters)",
  },
  sysctl: {
    key: "the sysctl (net.ipv4.ip_forward)",
    value: "its value, blanks collapsed (empty when it does not exist)",
    op: "the comparison",
    expected: "the value(s) compared with",
  },
  unit: {
    unit: "the unit",
    activeState: "its ActiveState",
    subState: "its SubState",
    unitFileState: "its UnitFileState",
    source: '"systemd" (asked over D-Bus) or "files" (its unit files and cgroup)',
  },
  tcp: { host: "the host", port: "the port", address: "host:port", elapsedMs: "how long the connection took", error: "why it failed (ECONNREFUSED …)" },
  http: {
    url: "the URL",
    status: "the HTTP status (empty when nothing answered)",
    elapsedMs: "how long the answer took",
    error: "why the request failed",
    body: "the start of the body (up to 200 characters)",
  },
  "npd-plugin": { path: "the plugin", exitCode: "its exit code", output: "its stdout, trimmed (cut at maxOutputBytes, saying so)" },
  log: {
    source: "what was read (the journal's units, the files)",
    signature: "the active signature's reason",
    count: "its matching lines within the window",
    window: "the window (10 min)",
    last: "when the last matching line was written",
    sample: "the last matching line (up to 400 characters)",
  },
};

/** The probe's own deadline, when it has one (tcp, http, npd-plugin). */
export function probeTimeoutSeconds(probe: ProbeSettings): number | undefined {
  return "timeoutSeconds" in probe ? probe.timeoutSeconds : undefined;
}
