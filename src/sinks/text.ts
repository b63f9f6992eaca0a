/**
 * The plain report `node-doctor check` and the agent's first diagnosis print:
 * grouped by condition, worst first, each problem with its reason, message
 * and remedy. Colour only when writing to a terminal.
 */
import { CONDITION_TYPES, healthyCondition, severityRank, worstSeverity, type ConditionType, type Finding, type Severity } from "../types.js";
import { statusFor, sortFindings } from "../engine/state.js";
import { printable } from "../text/format.js";

const COLOURS: Record<Severity, string> = { ok: "\x1b[32m", warning: "\x1b[33m", unknown: "\x1b[35m", critical: "\x1b[31m" };
const BOLD = "\x1b[1m";
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";
const MARK: Record<Severity, string> = { ok: "ok", warning: "WARN", unknown: "UNKNOWN", critical: "CRIT" };

export interface TextReportOptions {
  colour: boolean;
  width?: number;
  header?: string;
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join("\n");
}

export function exitCodeFor(findings: readonly Finding[]): number {
  const worst = worstSeverity(findings.map((f) => f.severity));
  return worst === "critical" ? 2 : worst === "ok" ? 0 : 1;
}

export function renderText(unsafe: readonly Finding[], options: TextReportOptions): string {
  // Messages quote the node's logs and daemons: no control character of theirs reaches the terminal.
  const findings = unsafe.map((f) => ({
    ...f,
    reason: printable(f.reason),
    message: printable(f.message),
    ...(f.remedy ? { remedy: printable(f.remedy) } : {}),
  }));
  const width = Math.max(60, Math.min(options.width ?? 100, 120));
  const paint = (severity: Severity, text: string) => (options.colour ? `${COLOURS[severity]}${text}${RESET}` : text);
  const bold = (text: string) => (options.colour ? `${BOLD}${text}${RESET}` : text);
  const dim = (text: string) => (options.colour ? `${DIM}${text}${RESET}` : text);
  const out: string[] = [];
  if (options.header) out.push(options.header, "");

  // Built-in conditions in their fixed order, then configured ones as the checks reported them.
  const present = new Set<ConditionType>(findings.map((f) => f.condition));
  const conditions = [...new Set<ConditionType>([...CONDITION_TYPES, ...present])]
    .filter((c) => present.has(c))
    .sort(
      (a, b) =>
        severityRank(worstSeverity(findings.filter((f) => f.condition === b).map((f) => f.severity))) -
        severityRank(worstSeverity(findings.filter((f) => f.condition === a).map((f) => f.severity))),
    );
  for (const condition of conditions) {
    const group = sortFindings(findings.filter((f) => f.condition === condition));
    const worst = worstSeverity(group.map((f) => f.severity));
    const status = statusFor(worst);
    const reason = worst === "ok" ? healthyCondition(condition, group).reason : (group[0]?.reason ?? "");
    out.push(`${paint(worst, MARK[worst].padEnd(7))} ${bold(condition)}=${status}  ${dim(reason)}`);
    for (const finding of group) {
      if (finding.severity === "ok") {
        out.push(wrap(`${dim("·")} ${finding.message}`, width, "        "));
        continue;
      }
      out.push(`        ${paint(finding.severity, finding.severity)} ${bold(finding.reason)} ${dim(`[${finding.check}]`)}`);
      out.push(wrap(finding.message, width, "          "));
      if (finding.remedy) out.push(wrap(`Fix: ${finding.remedy}`, width, "          "));
    }
    out.push("");
  }
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const summary = `${count("critical")} critical, ${count("warning")} warning, ${count("unknown")} unknown, ${count("ok")} ok`;
  out.push(bold(`Summary: ${summary}`));
  return out.join("\n") + "\n";
}
