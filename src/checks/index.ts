/**
 * Every check node-doctor has, in one plain list (no self-registration on
 * import). A test asserts each file in this folder that exports a check is
 * listed here. Order is the report's order.
 *
 * Most kinds are one check with one settings mapping (`checks.disk`). A list
 * kind (`checks.custom`) is a list of entries, each its own check named
 * `<kind>/<entry>`; its factory gets the whole enabled list, so entries can
 * share what they need (the custom checks' one process runner).
 */
import type { Schema } from "../config/schema.js";
import type { JournalReader } from "../node/journal.js";
import type { KubeletLocator } from "../node/kubelet/locator.js";
import { REASONS as CERTIFICATE_CATALOGUE } from "./certificates/reasons.js";
import { REASONS as CLOCK_CATALOGUE } from "./clock/reasons.js";
import { REASONS as DISK_CATALOGUE } from "./disk/reasons.js";
import { REASONS as KUBELET_CATALOGUE } from "./kubelet/reasons.js";
import { REASONS as KUBELET_CONFIG_CATALOGUE } from "./kubelet-config/reasons.js";
import { REASONS as KUBELET_LOGS_CATALOGUE } from "./kubelet-logs/reasons.js";
import { REASONS as RUNTIME_CATALOGUE } from "./runtime/reasons.js";
import { REASONS as CUSTOM_CATALOGUE } from "./custom/reasons.js";
import { REASONS as NETWORK_CATALOGUE } from "./network/reasons.js";
import type { CheckMetricsFactory } from "../telemetry/registry.js";
import type { Check, ReasonCatalogue, ReasonSpec, RepairClass } from "../types.js";
import { certificateMetrics } from "./certificates/metrics.js";
import { clockMetrics } from "./clock/metrics.js";
import { filesystemMetrics } from "./disk/metrics.js";
import { logMetrics } from "./kubelet-logs/metrics.js";
import { runtimeMetrics } from "./runtime/metrics.js";
import { customMetrics } from "./custom/metrics.js";
import { networkMetrics } from "./network/metrics.js";
import { certificateSettings, createCertificatesCheck } from "./certificates/index.js";
import { clockSettings, createClockCheck } from "./clock/index.js";
import { createDiskCheck, diskSettings } from "./disk/index.js";
import { createKubeletCheck, kubeletSettings } from "./kubelet/index.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "./kubelet-config/index.js";
import { createKubeletLogsCheck, kubeletLogsSettings } from "./kubelet-logs/index.js";
import { createRuntimeCheck, runtimeSettings } from "./runtime/index.js";
import { createCustomChecks, customSettings } from "./custom/index.js";
import { createNetworkCheck, networkSettings } from "./network/index.js";

/** What checks may share: built once per agent by cli.ts. */
export interface CheckDeps {
  kubelet: KubeletLocator;
  /** The one journalctl child, shared by every check that reads the journal. */
  journal: JournalReader;
}

interface CheckEntry<S> {
  settings: Schema<S>;
  /** The folder's factory, as it exports it (the registry test finds it there). */
  create: (settings: never, deps: CheckDeps) => Check | Check[];
  /** The checks `settings` turn on; `forced` (`--only`) builds disabled ones too. */
  build(settings: S, deps: CheckDeps, forced: boolean): Check[];
  /** Every reason the check can emit, with its documentation: docs/reasons.md is generated from it. */
  reasons: ReasonCatalogue;
  /** The check's own series (its metrics.ts), registered once when any check of the kind is enabled. */
  metrics?: CheckMetricsFactory;
}

function entry<S extends { enabled: boolean }>(
  settings: Schema<S>,
  create: (settings: S, deps: CheckDeps) => Check,
  reasons: ReasonCatalogue,
  metrics?: CheckMetricsFactory,
): CheckEntry<S> {
  return { settings, create, build: (s, deps, forced) => (forced || s.enabled ? [create(s, deps)] : []), reasons, ...(metrics ? { metrics } : {}) };
}

/** A list kind: one check per entry of the list. */
function entries<S extends { enabled: boolean }>(
  settings: Schema<S[]>,
  create: (items: S[], deps: CheckDeps) => Check[],
  reasons: ReasonCatalogue,
  metrics?: CheckMetricsFactory,
): CheckEntry<S[]> {
  return {
    settings,
    create,
    build: (items, deps, forced) => create(forced ? items : items.filter((item) => item.enabled), deps),
    reasons,
    ...(metrics ? { metrics } : {}),
  };
}

export const CHECKS = {
  disk: entry(diskSettings, createDiskCheck, DISK_CATALOGUE, filesystemMetrics),
  certificates: entry(certificateSettings, createCertificatesCheck, CERTIFICATE_CATALOGUE, certificateMetrics),
  kubelet: entry(kubeletSettings, createKubeletCheck, KUBELET_CATALOGUE),
  "kubelet-config": entry(kubeletConfigSettings, createKubeletConfigCheck, KUBELET_CONFIG_CATALOGUE),
  clock: entry(clockSettings, createClockCheck, CLOCK_CATALOGUE, clockMetrics),
  "kubelet-logs": entry(kubeletLogsSettings, createKubeletLogsCheck, KUBELET_LOGS_CATALOGUE, logMetrics),
  runtime: entry(runtimeSettings, createRuntimeCheck, RUNTIME_CATALOGUE, runtimeMetrics),
  network: entry(networkSettings, createNetworkCheck, NETWORK_CATALOGUE, networkMetrics),
  custom: entries(customSettings, createCustomChecks, CUSTOM_CATALOGUE, customMetrics),
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

/** Builds the enabled checks, restricted to `only` when given (names already validated). */
export function buildChecks(config: ChecksConfig, deps: CheckDeps, only?: readonly CheckName[]): Check[] {
  const checks: Check[] = [];
  for (const name of CHECK_NAMES) {
    if (only && !only.includes(name)) continue;
    checks.push(...(CHECKS[name] as CheckEntry<unknown>).build(config[name], deps, only !== undefined));
  }
  return checks;
}
