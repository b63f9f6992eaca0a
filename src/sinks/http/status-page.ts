/**
 * The status page at `/`: what an operator on a port-forward wants to see
 * first — node-doctor's conditions and its findings, worst first, each with
 * its remedy. Plain HTML with inline style: no script, no external asset
 * (the server's Content-Security-Policy forbids both), so it renders the same
 * from a browser, `curl` or a screenshot. It refreshes itself every 30 s.
 */
import { severityRank, type CheckRun, type ConditionState, type Finding, type Severity } from "../../types.js";
import { sortFindings } from "../../engine/state.js";
import { isoTimeMs, printable } from "../../text/format.js";

/** A page stays readable (and small) whatever a check reports: the rest is in /findings. */
export const STATUS_PAGE_MAX_FINDINGS = 200;

const COLOURS: Record<Severity, string> = { critical: "#b00020", warning: "#a15c00", unknown: "#6a3d9a", ok: "#1b7f3b" };

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Everything shown comes from the node (file contents, daemon replies): escaped, and no control characters. */
function esc(text: string): string {
  return printable(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function badge(severity: Severity): string {
  return `<span class="sev" style="background:${COLOURS[severity]}">${severity}</span>`;
}

export interface StatusPageInput {
  nodeName: string;
  version: string;
  nowMs: number;
  conditions: readonly ConditionState[];
  runs: readonly CheckRun[];
}

function findingItem(f: Finding): string {
  return [
    `<li class="finding" data-severity="${f.severity}" data-reason="${esc(f.reason)}">`,
    `<div class="head">${badge(f.severity)} <strong class="reason">${esc(f.reason)}</strong> <span class="meta">${esc(f.condition)} · ${esc(f.check)}</span></div>`,
    `<p class="message">${esc(f.message)}</p>`,
    f.remedy ? `<div class="remedy"><span class="label">Remedy</span><pre>${esc(f.remedy)}</pre></div>` : "",
    "</li>",
  ].join("");
}

export function renderStatusPage(input: StatusPageInput): string {
  const all = sortFindings(input.runs.flatMap((run) => run.findings));
  const problems = all.filter((f) => f.severity !== "ok");
  const shown = problems.slice(0, STATUS_PAGE_MAX_FINDINGS);
  const worst = problems[0]?.severity ?? "ok";
  const conditions = [...input.conditions].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.type < b.type ? -1 : 1));
  const failedRuns = input.runs.filter((run) => run.outcome !== "ok");
  const summary =
    problems.length === 0
      ? `<p class="summary ok" id="summary">No problem found: ${all.length} finding${all.length === 1 ? "" : "s"}, all ok.</p>`
      : `<p class="summary" id="summary" style="border-color:${COLOURS[worst]}">${(["critical", "warning", "unknown"] as const)
          .map((s) => `${problems.filter((f) => f.severity === s).length} ${s}`)
          .join(", ")}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>node-doctor · ${esc(input.nodeName)} · ${problems.length === 0 ? "ok" : worst}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1d1d1f;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.meta{color:#555;font-size:.9em}.sev{color:#fff;border-radius:3px;padding:0 .4em;font-size:.8em;text-transform:uppercase;font-weight:600}
.summary{border-left:5px solid #1b7f3b;padding:.4rem .8rem;background:#f6f6f6;font-weight:600}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
ol{padding-left:0;list-style:none}.finding{border:1px solid #ddd;border-radius:4px;padding:.6rem .8rem;margin:.6rem 0}
.message{margin:.3rem 0}.remedy .label{font-weight:600;font-size:.85em;color:#333}
pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f3;padding:.5rem;border-radius:3px;margin:.2rem 0;font-size:.9em}
</style>
</head>
<body>
<h1>node-doctor on ${esc(input.nodeName)}</h1>
<p class="meta">node-doctor ${esc(input.version)} · ${isoTimeMs(input.nowMs)} · <a href="/findings">/findings</a> (JSON) · <a href="/metrics">/metrics</a></p>
${summary}
<h2>Findings</h2>
${shown.length === 0 ? `<p id="no-problems">Every check that ran found nothing to fix.</p>` : `<ol id="findings">${shown.map(findingItem).join("\n")}</ol>`}
${problems.length > shown.length ? `<p class="meta" id="more">${problems.length - shown.length} more not shown: see <a href="/findings">/findings</a>.</p>` : ""}
<h2>Conditions</h2>
${
  conditions.length === 0
    ? `<p class="meta">No condition yet: the first round of checks has not finished.</p>`
    : `<table id="conditions"><tr><th>Condition</th><th>Status</th><th>Reason</th><th>Since</th></tr>${conditions
        .map(
          (c) =>
            `<tr><td>${esc(c.type)}</td><td>${badge(c.severity)} ${c.status}${c.flapping ? " (flapping)" : ""}</td><td>${esc(c.reason)}</td><td>${isoTimeMs(c.sinceMs)}</td></tr>`,
        )
        .join("")}</table>`
}
<h2>Checks</h2>
<table id="checks"><tr><th>Check</th><th>Last run</th><th>Outcome</th></tr>${input.runs
    .map(
      (run) =>
        `<tr><td>${esc(run.check)}</td><td>${isoTimeMs(run.startedAtMs)} (${Math.round(run.durationMs)} ms)</td><td>${run.outcome}${run.error ? `: ${esc(run.error)}` : ""}</td></tr>`,
    )
    .join("")}</table>
${failedRuns.length > 0 ? `<p class="meta">${failedRuns.length} check${failedRuns.length === 1 ? "" : "s"} could not look; their conditions read Unknown.</p>` : ""}
</body>
</html>
`;
}
