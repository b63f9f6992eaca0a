/**
 * Every check node-doctor has, in one plain list (no self-registration on
 * import). A test asserts each file in this folder that exports a check is
 * listed here. Order is the report's order.
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
import type { CheckMetricsFactory } from "../telemetry/registry.js";
import type { Check, ReasonCatalogue } from "../types.js";
import { certificateMetrics } from "./certificates/metrics.js";
import { clockMetrics } from "./clock/metrics.js";
import { filesystemMetrics } from "./disk/metrics.js";
import { logMetrics } from "./kubelet-logs/metrics.js";
import { runtimeMetrics } from "./runtime/metrics.js";
import { certificateSettings, createCertificatesCheck } from "./certificates/index.js";
import { clockSettings, createClockCheck } from "./clock/index.js";
import { createDiskCheck, diskSettings } from "./disk/index.js";
import { createKubeletCheck, kubeletSettings } from "./kubelet/index.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "./kubelet-config/index.js";
import { createKubeletLogsCheck, kubeletLogsSettings } from "./kubelet-logs/index.js";
import { createRuntimeCheck, runtimeSettings } from "./runtime/index.js";

/** What checks may share: built once per agent by cli.ts. */
export interface CheckDeps {
  kubelet: KubeletLocator;
  /** The one journalctl child, shared by every check that reads the journal. */
  journal: JournalReader;
}

interface CheckEntry<S extends { enabled: boolean }> {
  settings: Schema<S>;
  create(settings: S, deps: CheckDeps): Check;
  /** Every reason the check can emit, with its documentation: docs/reasons.md is generated from it. */
  reasons: ReasonCatalogue;
  /** The check's own series (its metrics.ts), registered when the check is enabled. */
  metrics?: CheckMetricsFactory;
}

function entry<S extends { enabled: boolean }>(
  settings: Schema<S>,
  create: (settings: S, deps: CheckDeps) => Check,
  reasons: ReasonCatalogue,
  metrics?: CheckMetricsFactory,
): CheckEntry<S> {
  return { settings, create, reasons, ...(metrics ? { metrics } : {}) };
}

export const CHECKS = {
  disk: entry(diskSettings, createDiskCheck, DISK_CATALOGUE, filesystemMetrics),
  certificates: entry(certificateSettings, createCertificatesCheck, CERTIFICATE_CATALOGUE, certificateMetrics),
  kubelet: entry(kubeletSettings, createKubeletCheck, KUBELET_CATALOGUE),
  "kubelet-config": entry(kubeletConfigSettings, createKubeletConfigCheck, KUBELET_CONFIG_CATALOGUE),
  clock: entry(clockSettings, createClockCheck, CLOCK_CATALOGUE, clockMetrics),
  "kubelet-logs": entry(kubeletLogsSettings, createKubeletLogsCheck, KUBELET_LOGS_CATALOGUE, logMetrics),
  runtime: entry(runtimeSettings, createRuntimeCheck, RUNTIME_CATALOGUE, runtimeMetrics),
} as const;

export type CheckName = keyof typeof CHECKS;

/** The series factory of a check, when it has its own series. */
export function checkMetricsFactory(name: string): CheckMetricsFactory | undefined {
  return Object.hasOwn(CHECKS, name) ? (CHECKS[name as CheckName] as CheckEntry<{ enabled: boolean }>).metrics : undefined;
}
export const CHECK_NAMES = Object.keys(CHECKS) as CheckName[];

/** The `checks` section of the config schema: one settings schema per check. */
export const checkSettingsSchemas = Object.fromEntries(Object.entries(CHECKS).map(([name, e]) => [name, e.settings])) as {
  [K in CheckName]: (typeof CHECKS)[K]["settings"];
};

export type ChecksConfig = { [K in CheckName]: (typeof CHECKS)[K] extends CheckEntry<infer S> ? S : never };

/** Builds the enabled checks, restricted to `only` when given (names already validated). */
export function buildChecks(config: ChecksConfig, deps: CheckDeps, only?: readonly CheckName[]): Check[] {
  const checks: Check[] = [];
  for (const name of CHECK_NAMES) {
    const settings = config[name];
    if (only ? !only.includes(name) : !settings.enabled) continue;
    checks.push((CHECKS[name] as CheckEntry<typeof settings>).create(settings, deps));
  }
  return checks;
}
