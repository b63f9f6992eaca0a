/**
 * For tests that change this machine's kernel state (cgroups, sysctls, network
 * namespaces): undo steps run in reverse at the end of the file and on exit,
 * should a test die first; and a finding picked by reason, naming the rest.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import type { Finding } from "../../src/types.js";

/** Undo steps, registered as each change is made; run newest first, best effort, in after() and on exit. */
export function undoOnExit(): Array<() => void> {
  const steps: Array<() => void> = [];
  const undoAll = () => {
    for (const step of steps.splice(0).reverse()) {
      try {
        step();
      } catch {
        // best effort: the next one still runs
      }
    }
  };
  process.once("exit", undoAll);
  after(undoAll);
  return steps;
}

export function byReason(findings: readonly Finding[], reason: string): Finding {
  const found = findings.find((f) => f.reason === reason);
  assert.ok(found, `${reason} in ${findings.map((f) => `${f.reason}/${f.severity}: ${f.message}`).join("\n")}`);
  return found;
}
