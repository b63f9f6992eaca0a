/**
 * The agent's configuration: defaults < YAML file (--config) < environment
 * (NODE_NAME, NODE_DOCTOR_*) < flags. Every layer is validated; the first
 * problem becomes one ConfigError line naming where it came from and the key.
 */
import { parseUntrustedYaml, YamlLimitError } from "../text/yaml.js";
import { LOCAL_REPAIR_CLASSES } from "../types.js";
import {
  ConfigError,
  absolutePath,
  boolean,
  list,
  number,
  object,
  oneOf,
  optional,
  string,
  withDefault,
  type Infer,
  type ObjectOf,
  type Schema,
} from "./schema.js";
import { errorLine } from "../text/format.js";

/** Settings every check has; a check's own schema adds its thresholds. */
export function checkSettings<S extends Record<string, Schema<unknown>>>(
  defaults: { intervalSeconds: number; timeoutSeconds: number; enabled?: boolean },
  extra: S,
) {
  return object({
    enabled: withDefault(boolean(), defaults.enabled ?? true),
    intervalSeconds: withDefault(number({ min: 1, max: 86400 }), defaults.intervalSeconds),
    timeoutSeconds: withDefault(number({ min: 0.1, max: 3600 }), defaults.timeoutSeconds),
    ...extra,
  });
}

export type CommonCheckSettings = Infer<ReturnType<typeof checkSettings<Record<never, Schema<unknown>>>>>;

function listenAddress(value: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) return `expected HOST:PORT (e.g. ${DEFAULT_LISTEN}), got ${JSON.stringify(value)}`;
  return undefined;
}

/**
 * The host's journal, read by one `journalctl` child for every check that
 * reads it (kubelet-logs, kernel, custom log probes): src/node/journal.ts.
 */
export const journalSettings = object({
  /** The first that holds files is followed: journald's persistent storage, then its volatile one. */
  directories: withDefault(list(string({ check: absolutePath }), { maxItems: 8 }), ["/var/log/journal", "/run/log/journal"]),
  /** The binary in the agent's image (on PATH, or a path). */
  journalctl: withDefault(string({ nonEmpty: true }), "journalctl"),
  /** Lines parsed per second before shedding lines no signature can match. */
  maxLinesPerSecond: withDefault(number({ min: 100, max: 1_000_000, integer: true }), 20_000),
  /** At start, never read further back than this, whatever a check asks for. */
  maxLookbackHours: withDefault(number({ min: 0, max: 24 * 7 }), 24),
});

export type JournalSettings = Infer<typeof journalSettings>;

/** How the agent talks to the API server: every default here, once (the conditions sink, connect, the kubectl plugin read them). */
export const kubernetesSettings = object({
  /** Write our conditions at least this often even when nothing changed. */
  heartbeatSeconds: withDefault(number({ min: 10, max: 86400 }), 600),
  requestTimeoutSeconds: withDefault(number({ min: 0.5, max: 300 }), 10),
  /** Longest wait between retries of a failed write. */
  backoffCapSeconds: withDefault(number({ min: 1, max: 3600 }), 300),
  events: withDefault(boolean(), true),
});

export type KubernetesSettings = Infer<typeof kubernetesSettings>;

/** What an empty `kubernetes:` section means. */
export const DEFAULT_KUBERNETES_SETTINGS: KubernetesSettings = kubernetesSettings.parse(undefined, "kubernetes");

/**
 * Local repair (docs/remediation.md): off unless enabled, and then a dry run
 * until `dryRun: false`.
 */
export const repairSettings = object({
  enabled: withDefault(boolean(), false),
  /** Log and post an Event saying what would be done, and do nothing. */
  dryRun: withDefault(boolean(), true),
  /** The repair classes carried out; the others are left to a person. */
  actions: withDefault(list(oneOf(...LOCAL_REPAIR_CLASSES), { maxItems: LOCAL_REPAIR_CLASSES.length }), [...LOCAL_REPAIR_CLASSES]),
  /** After one repair of a kind, the next of that kind waits this long. */
  cooldownMinutes: withDefault(number({ min: 1, max: 1440 }), 30),
  /** Tries for one reason within 24 hours; beyond, a person must look. */
  maxPerReasonPerDay: withDefault(number({ min: 1, max: 24, integer: true }), 3),
  budget: object({
    /** At most this many nodes repairing at once (with maxPercent: the smaller). */
    maxNodes: optional(number({ min: 0, max: 10_000, integer: true })),
    /** At most this % of the cluster's nodes repairing at once, rounded up. */
    maxPercent: withDefault(number({ min: 0, max: 100 }), 10),
  }),
  /** The namespace of the slot Leases; empty: the agent's own (POD_NAMESPACE), else kube-system. */
  namespace: withDefault(string(), ""),
  /** A slot Lease not renewed for this long is free again (a node that died while repairing); a repairing node renews it every third of this. */
  leaseSeconds: withDefault(number({ min: 30, max: 3600, integer: true }), 300),
  /** How long a restarted unit has to become active before the repair counts as failed. */
  settleSeconds: withDefault(number({ min: 1, max: 600 }), 60),
});

/** The values of `compat.conditions`: `eks` also writes the EKS node monitoring agent's types (docs/remediation.md). */
export const COMPAT_MODES = ["none", "eks"] as const;
export type CompatMode = (typeof COMPAT_MODES)[number];

/** Where the agent serves /metrics and the status page unless told otherwise (the kubectl plugin asks agents on its port). */
export const DEFAULT_LISTEN = "0.0.0.0:9101";

/** The schema of the whole file, given the checks' own schemas (from checks/index.ts). */
export function agentConfigSchema<C extends Record<string, Schema<unknown>>>(checks: C) {
  return object({
    nodeName: optional(string({ nonEmpty: true })),
    hostRoot: withDefault(string({ nonEmpty: true }), "/"),
    listen: withDefault(string({ check: listenAddress }), DEFAULT_LISTEN),
    logLevel: withDefault(oneOf("debug", "info", "warn", "error"), "info"),
    kubeconfig: optional(string({ nonEmpty: true })),
    engine: object({
      /** Each run's interval varies by up to this fraction, so checks on many nodes do not align. */
      jitterRatio: withDefault(number({ min: 0, max: 0.5 }), 0.1),
      damping: object({
        /** A new severity or reason is accepted after it holds this many consecutive runs… */
        consecutiveRuns: withDefault(number({ min: 1, max: 100, integer: true }), 2),
        /** …or this many seconds, whichever comes first. */
        holdSeconds: withDefault(number({ min: 0, max: 86400 }), 60),
        /** Accepted transitions of one condition within flapWindowSeconds that mark it flapping. */
        flapTransitions: withDefault(number({ min: 2, max: 1000, integer: true }), 4),
        flapWindowSeconds: withDefault(number({ min: 1, max: 86400 }), 1800),
      }),
    }),
    kubernetes: kubernetesSettings,
    compat: object({
      /** Condition types of other tools written from our findings, for the repairers that read only those. */
      conditions: withDefault(oneOf(...COMPAT_MODES), "none"),
    }),
    repair: repairSettings,
    journal: journalSettings,
    checks: object(checks),
  });
}

export type AgentConfig<C extends Record<string, Schema<unknown>>> = ObjectOf<ReturnType<typeof agentConfigSchema<C>>["shape"]>;

/** Values that come from flags or the environment, already typed. */
export interface ConfigOverrides {
  configFile?: string;
  nodeName?: string;
  hostRoot?: string;
  listen?: string;
  logLevel?: string;
  kubeconfig?: string;
}

/** Environment variables the agent reads, and the key each sets. */
export const ENVIRONMENT: ReadonlyArray<[string, keyof ConfigOverrides]> = [
  ["NODE_DOCTOR_CONFIG", "configFile"],
  ["NODE_NAME", "nodeName"],
  ["NODE_DOCTOR_NODE_NAME", "nodeName"],
  ["NODE_DOCTOR_HOST_ROOT", "hostRoot"],
  ["NODE_DOCTOR_LISTEN", "listen"],
  ["NODE_DOCTOR_LOG_LEVEL", "logLevel"],
  ["NODE_DOCTOR_KUBECONFIG", "kubeconfig"],
];

export function overridesFromEnvironment(env: NodeJS.ProcessEnv): ConfigOverrides {
  const out: ConfigOverrides = {};
  for (const [variable, key] of ENVIRONMENT) {
    const value = env[variable];
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

const FLAG_FOR_KEY: Record<keyof ConfigOverrides, string> = {
  configFile: "--config",
  nodeName: "--node-name",
  hostRoot: "--host-root",
  listen: "--listen",
  logLevel: "--log-level",
  kubeconfig: "--kubeconfig",
};

/** Reads the agent's own config file: bounded, regular files only (main passes node/host.ts's readOwnFile). */
export type ReadOwnFile = (path: string) => Promise<string>;

async function readConfigFile(path: string, read: ReadOwnFile): Promise<unknown> {
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    const problem = error instanceof Error && "problem" in error && typeof error.problem === "string" ? error.problem : String(error);
    throw new ConfigError(`--config ${path}`, problem);
  }
  try {
    const value = parseUntrustedYaml(text);
    return value ?? {};
  } catch (error) {
    if (error instanceof YamlLimitError) throw new ConfigError(`config ${path}`, error.message);
    const first = errorLine(error);
    throw new ConfigError(`config ${path}`, `invalid YAML: ${first}`);
  }
}

/**
 * Merges the layers and validates. `fromEnv` and `fromFlags` are applied over
 * the file's top-level keys; their errors name the flag or variable.
 */
export async function loadConfig<C extends Record<string, Schema<unknown>>>(
  schema: Schema<AgentConfig<C>>,
  fromEnv: ConfigOverrides,
  fromFlags: ConfigOverrides,
  read: ReadOwnFile,
): Promise<AgentConfig<C>> {
  const configFile = fromFlags.configFile ?? fromEnv.configFile;
  const fileValue = configFile ? await readConfigFile(configFile, read) : {};
  if (fileValue === null || typeof fileValue !== "object" || Array.isArray(fileValue)) {
    throw new ConfigError(`config ${configFile}`, `expected a mapping at the top level, got ${Array.isArray(fileValue) ? "a list" : typeof fileValue}`);
  }
  // Validate the file alone first so its errors name the file.
  try {
    schema.parse(fileValue, "");
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`config ${configFile}: ${error.key}`, error.problem);
    throw error;
  }
  const merged: Record<string, unknown> = { ...(fileValue as Record<string, unknown>) };
  for (const [layer, values] of [
    ["env", fromEnv],
    ["flags", fromFlags],
  ] as const) {
    for (const [key, value] of Object.entries(values) as Array<[keyof ConfigOverrides, string]>) {
      if (key === "configFile") continue;
      const candidate = { ...merged, [key]: value };
      try {
        schema.parse(candidate, "");
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        const origin = layer === "flags" ? FLAG_FOR_KEY[key] : (ENVIRONMENT.find(([, k]) => k === key)?.[0] ?? key);
        throw new ConfigError(origin, error.problem);
      }
      merged[key] = value;
    }
  }
  return schema.parse(merged, "");
}
