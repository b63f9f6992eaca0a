/** Custom checks as the agent builds them from `checks.custom` entries, for tests. */
import { CHECKS, type CheckDeps } from "../../src/checks/index.js";
import type { Check, CheckContext, Finding } from "../../src/types.js";

const DEPS = { kubelet: { locate: async () => ({}) } } as unknown as CheckDeps;

/** Every entry parsed as the configuration would be (so bad ones throw the ConfigError the agent would), then built. */
export function customChecks(entries: readonly Record<string, unknown>[]): Check[] {
  return CHECKS.custom.build(CHECKS.custom.settings.parse(entries, "checks.custom"), DEPS, false);
}

export function customCheck(entry: Record<string, unknown>): Check {
  const [check] = customChecks([entry]);
  if (!check) throw new Error("the entry built no check (enabled: false?)");
  return check;
}

/** Runs a check once and returns its one finding. */
export async function runOnce(check: Check, ctx: CheckContext): Promise<Finding> {
  const findings = await check.run(ctx);
  if (findings.length !== 1) throw new Error(`expected one finding, got ${findings.length}`);
  return findings[0] as Finding;
}
