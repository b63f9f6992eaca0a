/** Custom checks as the agent builds them from `checks.custom` entries, for tests. */
import { CHECKS, type CheckDeps } from "../../src/checks/index.js";
import type { JournalReader } from "../../src/node/journal.js";
import { systemClock } from "../../src/time/clock.js";
import type { Check, CheckContext, Finding } from "../../src/types.js";
import { testJournalReader } from "./journal.js";

/** Custom checks use no kubelet locator; the journal reader is the test's (log probes), else one that finds no journal. */
function deps(journal?: JournalReader): CheckDeps {
  return { kubelet: undefined as never, journal: journal ?? testJournalReader("/nonexistent", systemClock) };
}

/** Every entry parsed as the configuration would be (so bad ones throw the ConfigError the agent would), then built. */
export function customChecks(entries: readonly Record<string, unknown>[], journal?: JournalReader): Check[] {
  return CHECKS.custom.build(CHECKS.custom.settings.parse(entries, "checks.custom"), deps(journal), false);
}

export function customCheck(entry: Record<string, unknown>, journal?: JournalReader): Check {
  const [check] = customChecks([entry], journal);
  if (!check) throw new Error("the entry built no check (enabled: false?)");
  return check;
}

/** Runs a check once and returns its one finding. */
export async function runOnce(check: Check, ctx: CheckContext): Promise<Finding> {
  const findings = await check.run(ctx);
  if (findings.length !== 1) throw new Error(`expected one finding, got ${findings.length}`);
  return findings[0] as Finding;
}
