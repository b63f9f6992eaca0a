/**
 * Every check node-doctor has, in one plain list (no self-registration on
 * import). A test asserts each folder here whose index.ts exports a check
 * factory is listed. Order is the report's order.
 *
 * Each folder's index.ts exports its whole definition (settings schema,
 * factory, reasons catalogue, its own series: `defineCheck` in define.ts);
 * adding a check is its folder and its line here. The config schema,
 * docs/reasons.md (scripts/docs.ts), repair classes and the metrics sink
 * all reach a check's parts through this list.
 */
import type { CheckMetricsFactory } from "../telemetry/registry.js";
import type { Check, ReasonSpec, RepairClass } from "../types.js";
import type { CheckDeps, CheckEntry } from "./define.js";
import { certificatesCheck } from "./certificates/index.js";
import { clockCheck } from "./clock/index.js";
import { customCheck } from "./custom/index.js";
import { diskCheck } from "./disk/index.js";
import { exhaustionCheck } from "./exhaustion/index.js";
import { kernelCheck } from "./kernel/index.js";
import { kubeletCheck } from "./kubelet/index.js";
import { kubeletConfigCheck } from "./kubelet-config/index.js";
import { kubeletLogsCheck } from "./kubelet-logs/index.js";
import { networkCheck } from "./network/index.js";
import { runtimeCheck } from "./runtime/index.js";

export type { CheckDeps } from "./define.js";

export const CHECKS = {
  disk: diskCheck,
  certificates: certificatesCheck,
  kubelet: kubeletCheck,
  "kubelet-config": kubeletConfigCheck,
  clock: clockCheck,
  "kubelet-logs": kubeletLogsCheck,
  runtime: runtimeCheck,
  network: networkCheck,
  kernel: kernelCheck,
  exhaustion: exhaustionCheck,
  custom: customCheck,
} as const;

export type CheckName = keyof typeof CHECKS;

/** The registry key of a check: its name, or for an entry of a list kind the part before the "/" (`custom/nfs-data`). */
export function checkKind(checkName: string): string {
  return checkName.split("/", 1)[0] as string;
}

/** The series factory of a check, when its kind has its own series. */
export function checkMetricsFactory(name: string): CheckMetricsFactory | undefined {
  const kind = checkKind(name);
  return Object.hasOwn(CHECKS, kind) ? (CHECKS[kind as CheckName] as CheckEntry<unknown>).metrics : undefined;
}
export const CHECK_NAMES = Object.keys(CHECKS) as CheckName[];

/**
 * The `checks` settings that turn off every kind but those `keep` names: `enabled: false` for a kind that is one
 * check, no entries for a list kind (`custom: []`). The one way for a caller (a test, a bench, `run` without
 * `--only`) to leave only some checks on, whatever the kinds' shapes.
 */
export function checksOff(keep: readonly string[]): Record<string, { enabled: false } | []> {
  const off: Record<string, { enabled: false } | []> = {};
  for (const name of CHECK_NAMES) {
    if (keep.includes(name)) continue;
    off[name] = (CHECKS[name] as CheckEntry<unknown>).entries ? [] : { enabled: false };
  }
  return off;
}

/** The repair class its reasons.ts gives a check's reason ("none" for a reason it does not list). */
export function repairClassOf(checkName: string, reason: string): RepairClass {
  const kind = checkKind(checkName);
  if (!Object.hasOwn(CHECKS, kind)) return "none";
  const reasons = (CHECKS[kind as CheckName] as CheckEntry<unknown>).reasons.reasons as Record<string, ReasonSpec>;
  return Object.hasOwn(reasons, reason) ? (reasons[reason] as ReasonSpec).repair : "none";
}

/** The `checks` section of the config schema: one settings schema per check. */
export const checkSettingsSchemas = Object.fromEntries(Object.entries(CHECKS).map(([name, e]) => [name, e.settings])) as {
  [K in CheckName]: (typeof CHECKS)[K]["settings"];
};

export type ChecksConfig = { [K in CheckName]: (typeof CHECKS)[K] extends CheckEntry<infer S> ? S : never };

/**
 * Why `selector` (what `--only` names) names no check, or undefined when it does: a kind (`disk`; `custom`,
 * every configured entry) or one entry of a list kind (`custom/nfs-data`). Without `config` only the form is
 * checked (the kind exists and has entries); with it, the entry must be configured.
 */
export function checkSelectorProblem(selector: string, config?: ChecksConfig): string | undefined {
  if ((CHECK_NAMES as string[]).includes(selector)) return undefined;
  const kind = checkKind(selector);
  const listKinds = CHECK_NAMES.filter((name) => (CHECKS[name] as CheckEntry<unknown>).entries);
  if (!selector.includes("/") || !(CHECK_NAMES as string[]).includes(kind)) {
    return `unknown check ${JSON.stringify(selector)}; checks are ${[...CHECK_NAMES, ...listKinds.map((k) => `${k}/<name>`)].join(", ")}`;
  }
  const entries = (CHECKS[kind as CheckName] as CheckEntry<unknown>).entries;
  const entry = selector.slice(kind.length + 1);
  if (!entries) return `${kind} is one check, it has no entries: name it as ${kind}`;
  if (entry === "") return `${JSON.stringify(selector)} names no entry: ${kind}/<name>`;
  if (!config) return undefined;
  const names = entries.names(config[kind as CheckName]);
  if (names.includes(entry)) return undefined;
  return `no ${kind} check named ${JSON.stringify(entry)} in the configuration; ${names.length ? `configured: ${names.join(", ")}` : `checks.${kind} is empty`}`;
}

/**
 * Builds the enabled checks; with `only` (selectors already validated), the checks it names instead, disabled or
 * not: a kind whole, or the named entries of a list kind.
 */
export function buildChecks(config: ChecksConfig, deps: CheckDeps, only?: readonly string[]): Check[] {
  const checks: Check[] = [];
  for (const name of CHECK_NAMES) {
    const entry = CHECKS[name] as CheckEntry<unknown>;
    if (!only) checks.push(...entry.build(config[name], deps, false));
    else if (only.includes(name)) checks.push(...entry.build(config[name], deps, true));
    else {
      const picked = only.filter((selector) => checkKind(selector) === name && selector.includes("/")).map((selector) => selector.slice(name.length + 1));
      if (picked.length > 0 && entry.entries) checks.push(...entry.build(entry.entries.pick(config[name], picked), deps, true));
    }
  }
  return checks;
}
