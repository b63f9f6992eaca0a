/**
 * Checks an operator adds without writing code (`checks.custom`): a list,
 * each entry one probe of the node — a file, a sysctl, a systemd unit, a TCP
 * or HTTP endpoint, or an NPD custom-plugin script — feeding a condition type
 * of the operator's own, with the outcome mapped to severity, reason and
 * message/remedy templates. Everything is validated when the configuration
 * loads: an unknown kind, kubelet's or another check's condition type, a
 * regex that does not compile, a template naming a field the probe does not
 * give are errors naming the key (docs/custom-checks.md).
 */
import { checkSettings, type CommonCheckSettings } from "../../config/config.js";
import { ConfigError, list, object, oneOf, optional, refine, string, withDefault, type Schema } from "../../config/schema.js";
import { ProcessRunner } from "../../node/process-runner.js";
import { shellQuote } from "../../text/shell.js";
import { customConditionType, customConditionTypeProblem, type Check, type CheckContext, type CustomConditionType, type Finding } from "../../types.js";
import type { CheckDeps } from "../define.js";
import { gatherFile, gatherHttp, gatherPlugin, gatherSysctl, gatherTcp, LogGatherer, UnitGatherer } from "./gather.js";
import { CUSTOM_REASONS, judgeFile, judgeHttp, judgeLog, judgePlugin, judgeSysctl, judgeTcp, judgeUnit, type Verdict } from "./judge.js";
import { COMMON_FIELDS, logFields, PROBE_FIELDS, probeSettings, probeTimeoutSeconds, reasonName, type ProbeSettings } from "./probes.js";
import { renderTemplate, template, templateFields, type Template } from "./template.js";
import { defineCheckList } from "../define.js";
import { REASONS } from "./reasons.js";
import { customMetrics } from "./metrics.js";

/** Plugins running at once, across every npd-plugin check: NPD's default `concurrency`. */
export const MAX_CONCURRENT_PLUGINS = 3;
/** Entries in `checks.custom`: each is a check of its own, with its own condition. */
export const MAX_CUSTOM_CHECKS = 64;
/** A check's name: it becomes `custom/<name>` in findings, metrics and logs. */
const CHECK_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function conditionType(): Schema<CustomConditionType> {
  return {
    expected: "a condition type of your own (CamelCase)",
    parse(value, key) {
      if (typeof value !== "string") throw new ConfigError(key, `expected a condition type (CamelCase), got ${typeof value}`);
      const problem = customConditionTypeProblem(value);
      if (problem) throw new ConfigError(key, problem);
      return customConditionType(value);
    },
  };
}

const itemSettings = checkSettings(
  { intervalSeconds: 60, timeoutSeconds: 10 },
  {
    name: string({
      check: (v) => (CHECK_NAME.test(v) ? undefined : `must be lowercase letters, digits and dashes (nfs-data), at most 63, got ${JSON.stringify(v)}`),
    }),
    condition: conditionType(),
    probe: probeSettings,
    ok: object({
      reason: withDefault(reasonName(), CUSTOM_REASONS.CheckPassed),
      /** Default: the probe's own sentence ({{.detail}}). */
      message: optional(template()),
    }),
    problem: object({
      severity: withDefault(oneOf("warning", "critical"), "critical"),
      /** Default: the condition type. */
      reason: optional(reasonName()),
      message: optional(template()),
      remedy: optional(template()),
    }),
  },
);

/** Cross-field rules of one entry: the probe's deadline before the check's, templates naming only the probe's fields. */
function itemProblem(item: ReturnType<typeof itemSettings.parse>): [string, string] | undefined {
  const probeTimeout = probeTimeoutSeconds(item.probe);
  if (probeTimeout !== undefined && probeTimeout >= item.timeoutSeconds) {
    return [
      "probe.timeoutSeconds",
      `${probeTimeout} must be below the check's timeoutSeconds (${item.timeoutSeconds}): the probe's own deadline says "no answer", the check's means "could not look"`,
    ];
  }
  const known = [...Object.keys(COMMON_FIELDS), ...Object.keys(PROBE_FIELDS[item.probe.kind]), ...(item.probe.kind === "log" ? logFields(item.probe) : [])];
  const templates: Array<[string, Template | undefined]> = [
    ["ok.message", item.ok.message],
    ["problem.message", item.problem.message],
    ["problem.remedy", item.problem.remedy],
  ];
  for (const [key, t] of templates) {
    const unknown = t ? templateFields(t).find((field) => !known.includes(field)) : undefined;
    if (unknown) return [key, `{{.${unknown}}} is not a field of a ${item.probe.kind} probe; its fields: ${known.join(", ")}`];
  }
  return undefined;
}

export const customCheckSettings = refine(itemSettings, itemProblem);
export type CustomCheckSettings = CommonCheckSettings & ReturnType<typeof customCheckSettings.parse>;

/** `checks.custom`: the list. Names and condition types are each used once. */
export const customSettings = refine(withDefault(list(customCheckSettings, { maxItems: MAX_CUSTOM_CHECKS }), []), (items) => {
  const names = new Map<string, number>();
  const conditions = new Map<string, string>();
  for (const [index, item] of items.entries()) {
    const earlier = names.get(item.name);
    if (earlier !== undefined) return [`[${index}].name`, `${item.name} is already the name of entry ${earlier}`];
    names.set(item.name, index);
    const owner = conditions.get(item.condition);
    if (owner !== undefined) {
      return [`[${index}].condition`, `${item.condition} is already fed by custom check ${owner}: give each check a condition type of its own`];
    }
    conditions.set(item.condition, item.name);
  }
  return undefined;
});

/** One probe, gathered and judged: `look` throws when it could not look. */
interface Probe {
  look(ctx: CheckContext): Promise<Verdict>;
  close(): Promise<void>;
}

interface ProbeDeps {
  deps: CheckDeps;
  runner: ProcessRunner | undefined;
  onSpawn: () => void;
}

const nothingToClose = async () => undefined;

function probeOf(item: CustomCheckSettings, probe: ProbeSettings, { deps, runner, onSpawn }: ProbeDeps): Probe {
  const timeoutMs = item.timeoutSeconds * 1000;
  switch (probe.kind) {
    case "file":
      return { look: async (ctx) => judgeFile(probe, await gatherFile(probe, ctx), ctx.trustedNow().nowMs), close: nothingToClose };
    case "sysctl":
      return { look: async (ctx) => judgeSysctl(probe, (await gatherSysctl(probe, ctx)).value), close: nothingToClose };
    case "unit": {
      const units = new UnitGatherer();
      return { look: async (ctx) => judgeUnit(probe, await units.gather(probe, ctx, timeoutMs)), close: async () => units.close() };
    }
    case "tcp":
      return { look: async (ctx) => judgeTcp(probe, await gatherTcp(probe, ctx)), close: nothingToClose };
    case "http":
      return { look: async (ctx) => judgeHttp(probe, await gatherHttp(probe, ctx)), close: nothingToClose };
    case "npd-plugin": {
      if (!runner) throw new Error("an npd-plugin probe needs the process runner");
      // The queue is left while there is still time to run the plugin and report, before the check's deadline.
      const queueWaitMs = Math.max(0, (item.timeoutSeconds - probe.timeoutSeconds) * 1000 - 500);
      return { look: async (ctx) => judgePlugin(probe, await gatherPlugin(probe, ctx, runner, { queueWaitMs, onSpawn })), close: nothingToClose };
    }
    case "log": {
      const outcome = { condition: item.condition, severity: item.problem.severity, reason: item.problem.reason ?? item.condition };
      const logs = new LogGatherer(probe, outcome, `custom/${item.name}`, deps.journal);
      return { look: async (ctx) => judgeLog(probe, await logs.gather(ctx, timeoutMs)), close: () => logs.close() };
    }
  }
}

/** The finding of a verdict: the configured outcome's reason and templates; remedies shell-quote every value. */
export function findingOf(item: CustomCheckSettings, verdict: Verdict, extraEvidence: Record<string, unknown> = {}): Finding {
  const values = { name: item.name, condition: item.condition, kind: item.probe.kind, detail: verdict.detail, ...verdict.values };
  const base = { check: `custom/${item.name}`, condition: item.condition, evidence: { probe: item.probe.kind, ...verdict.values, ...extraEvidence } };
  if (verdict.outcome === "unknown") return { ...base, severity: "unknown", reason: verdict.reason, message: verdict.detail, remedy: verdict.remedy };
  if (verdict.outcome === "ok") {
    return { ...base, severity: "ok", reason: item.ok.reason, message: item.ok.message ? renderTemplate(item.ok.message, values) : verdict.detail };
  }
  const { problem } = item;
  return {
    ...base,
    severity: verdict.severity ?? problem.severity,
    reason: verdict.reason ?? problem.reason ?? item.condition,
    message: problem.message ? renderTemplate(problem.message, values) : verdict.detail,
    ...(problem.remedy ? { remedy: renderTemplate(problem.remedy, values, shellQuote) } : {}),
  };
}

/** One custom check. npd-plugin probes share `runner` (its concurrency limit is the agent's). */
function createCustomCheck(item: CustomCheckSettings, deps: CheckDeps, runner?: ProcessRunner): Check {
  let spawned = 0;
  let warnedPid1 = false;
  const probe = probeOf(item, item.probe, { deps, runner, onSpawn: () => spawned++ });
  return {
    name: `custom/${item.name}`,
    conditions: [item.condition],
    intervalMs: item.intervalSeconds * 1000,
    timeoutMs: item.timeoutSeconds * 1000,
    async run(ctx) {
      if (item.probe.kind === "npd-plugin" && process.pid === 1 && !warnedPid1) {
        warnedPid1 = true;
        ctx.log.warn(
          {},
          "node-doctor is PID 1 of its container: children a timed-out plugin leaves behind become zombies nobody reaps; run the pod with shareProcessNamespace: true (the chart does when an npd-plugin check is configured) or under an init",
        );
      }
      const verdict = await probe.look(ctx);
      // Cumulative, so a run that never got to report (it timed out) is counted by the next one.
      return [findingOf(item, verdict, item.probe.kind === "npd-plugin" ? { processesSpawned: spawned } : {})];
    },
    close: () => probe.close(),
  };
}

/** Every enabled custom check; one process runner for all npd-plugin probes, created only when one is configured. */
export function createCustomChecks(items: readonly CustomCheckSettings[], deps: CheckDeps): Check[] {
  const runner = items.some((item) => item.probe.kind === "npd-plugin") ? new ProcessRunner(MAX_CONCURRENT_PLUGINS) : undefined;
  return items.map((item) => createCustomCheck(item, deps, runner));
}

/** The check as the registry lists it (src/checks/index.ts). */
export const customCheck = defineCheckList({ settings: customSettings, create: createCustomChecks, reasons: REASONS, metrics: customMetrics });
