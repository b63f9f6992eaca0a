/**
 * What a check folder hands the registry: its settings schema, its factory,
 * its reasons catalogue and its own series, in one value its index.ts
 * exports (`defineCheck`, or `defineCheckList` for a list kind). The registry
 * (checks/index.ts) lists those values, one line each; the config schema,
 * docs/reasons.md, repair classes and the metrics sink all read them there.
 */
import type { Schema } from "../config/schema.js";
import type { JournalReader } from "../node/journal.js";
import type { KubeletLocator } from "../node/kubelet/locator.js";
import type { CheckMetricsFactory } from "../telemetry/registry.js";
import type { Check, ReasonCatalogue } from "../types.js";

/** What checks may share: built once per agent by cli.ts. */
export interface CheckDeps {
  kubelet: KubeletLocator;
  /** The one journalctl child, shared by every check that reads the journal. */
  journal: JournalReader;
}

export interface CheckEntry<S> {
  settings: Schema<S>;
  /** The folder's factory, as it exports it (the registry test finds it there). */
  create: (settings: never, deps: CheckDeps) => Check | Check[];
  /** The checks `settings` turn on; `forced` (`--only`) builds disabled ones too. */
  build(settings: S, deps: CheckDeps, forced: boolean): Check[];
  /** A list kind's entries by name (`--only custom/<name>` picks one); absent for a kind that is one check. */
  entries?: { names(settings: S): string[]; pick(settings: S, names: readonly string[]): S };
  /** Every reason the check can emit, with its documentation: docs/reasons.md is generated from it. */
  reasons: ReasonCatalogue;
  /** The check's own series (its metrics.ts), registered once when any check of the kind is enabled. */
  metrics?: CheckMetricsFactory;
}

/** A check kind with one settings mapping (`checks.disk`). */
export function defineCheck<S extends { enabled: boolean }>(parts: {
  settings: Schema<S>;
  create: (settings: S, deps: CheckDeps) => Check;
  reasons: ReasonCatalogue;
  metrics?: CheckMetricsFactory;
}): CheckEntry<S> {
  const { settings, create, reasons, metrics } = parts;
  return { settings, create, build: (s, deps, forced) => (forced || s.enabled ? [create(s, deps)] : []), reasons, ...(metrics ? { metrics } : {}) };
}

/**
 * A list kind (`checks.custom`): one check per entry, each named `<kind>/<entry>`; the factory gets
 * the whole enabled list, so entries can share what they need (the custom checks' one process runner).
 */
export function defineCheckList<S extends { enabled: boolean; name: string }>(parts: {
  settings: Schema<S[]>;
  create: (items: S[], deps: CheckDeps) => Check[];
  reasons: ReasonCatalogue;
  metrics?: CheckMetricsFactory;
}): CheckEntry<S[]> {
  const { settings, create, reasons, metrics } = parts;
  return {
    settings,
    create,
    build: (items, deps, forced) => create(forced ? items : items.filter((item) => item.enabled), deps),
    entries: { names: (items) => items.map((item) => item.name), pick: (items, names) => items.filter((item) => names.includes(item.name)) },
    reasons,
    ...(metrics ? { metrics } : {}),
  };
}
