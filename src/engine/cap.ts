/**
 * One check's findings, bounded. A check reports one finding per thing it
 * found wrong, and some things come in thousands: 10,000 stale conditions
 * another client left on the Node gave 10,000 findings (a 14.7 MB
 * /findings, as many Events and metric series). The engine keeps the worst
 * MAX_FINDINGS_PER_CHECK of a run and says what it left out in one more
 * finding per condition, counted by reason, so nothing is silently lost and
 * every condition still sees its worst finding.
 */
import { severityRank, worstSeverity, type Finding } from "../types.js";

/** Findings kept from one run of one check; the aggregate findings come on top. */
export const MAX_FINDINGS_PER_CHECK = 100;

/** The worst `max` findings in their reported order, then one FindingsCapped finding per condition of those left out. */
export function capFindings(findings: readonly Finding[], max: number, reason: string): Finding[] {
  if (findings.length <= max) return [...findings];
  const ranked = findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => severityRank(b.finding.severity) - severityRank(a.finding.severity) || a.index - b.index);
  const keep = new Set(ranked.slice(0, max).map((r) => r.index));
  const kept = findings.filter((_, index) => keep.has(index));
  const dropped = findings.filter((_, index) => !keep.has(index));
  const byCondition = new Map<Finding["condition"], Finding[]>();
  for (const f of dropped) {
    const list = byCondition.get(f.condition);
    if (list) list.push(f);
    else byCondition.set(f.condition, [f]);
  }
  const aggregates = [...byCondition].map(([condition, left]): Finding => {
    const reasons = new Map<string, number>();
    for (const f of left) reasons.set(f.reason, (reasons.get(f.reason) ?? 0) + 1);
    const counted = [...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} ${r}`);
    const first = left[0] as Finding;
    return {
      check: first.check,
      condition,
      severity: worstSeverity(left.map((f) => f.severity)),
      reason,
      message: `The ${first.check} check reported ${findings.length} findings; the ${max} worst are kept and ${left.length} more on ${condition} are left out (${counted.join(", ")}), the first of them: ${first.message}`,
      remedy: `Fix what the kept findings say; the ones left out are of the same kinds. ${first.remedy ?? ""}`.trim(),
      evidence: { total: findings.length, kept: max, dropped: left.length, reasons: Object.fromEntries(reasons) },
    };
  });
  return [...kept, ...aggregates];
}
