/**
 * Pure: a probe's settings and the facts gather.ts read in, a verdict out —
 * passed or not, one sentence of detail, and the values templates may name
 * (probes.ts PROBE_FIELDS). An npd-plugin can also say "unknown", NPD's third
 * answer, with a reason of node-doctor's own (reasons.ts).
 */
import type { RunResult } from "../../node/process-runner.js";
import type { FileFacts, HttpFacts, LogFacts, TcpFacts, UnitFacts } from "./gather.js";
import type { ProbeOf } from "./probes.js";
import { REASONS } from "./reasons.js";
import { formatAge, formatDuration, formatLimit, isoTime } from "../../text/format.js";

export const CUSTOM_REASONS = REASONS.names;

export type Values = Record<string, string>;

export type Verdict =
  | { outcome: "ok"; detail: string; values: Values }
  /** `severity` and `reason` override the check's problem outcome (a log signature's own). */
  | { outcome: "problem"; detail: string; values: Values; severity?: "warning" | "critical"; reason?: string }
  | { outcome: "unknown"; reason: keyof typeof REASONS.reasons; detail: string; remedy: string; values: Values };

/** Values quoted from the node (a body, a match) are cut here: a message is one line. */
export const EXCERPT_CHARS = 200;

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS - 1)}…` : flat;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

// ------------------------------------------------------------------ file

export function judgeFile(probe: ProbeOf<"file">, facts: FileFacts, nowMs: number): Verdict {
  const values: Values = { path: probe.path, exists: String(facts.exists) };
  if (!facts.exists) {
    return probe.exists
      ? { outcome: "problem", detail: `${probe.path} does not exist`, values }
      : { outcome: "ok", detail: `${probe.path} is absent, as required`, values };
  }
  const { stat } = facts;
  const ageMs = Math.max(0, nowMs - stat.mtimeMs);
  Object.assign(values, {
    mode: octal(stat.mode),
    owner: String(stat.uid),
    size: String(stat.size),
    ageSeconds: String(Math.round(ageMs / 1000)),
    age: formatAge(ageMs),
  });
  const what = stat.kind === "file" ? "" : ` (a ${stat.kind})`;
  if (!probe.exists) return { outcome: "problem", detail: `${probe.path}${what} exists but must be absent`, values };

  const problems: string[] = [];
  const perm = stat.mode & 0o7777;
  if (probe.mode !== undefined && perm !== probe.mode) problems.push(`has mode ${octal(perm)}, expected ${octal(probe.mode)}`);
  if (probe.maxMode !== undefined && (perm & ~probe.maxMode) !== 0) {
    problems.push(`has mode ${octal(perm)}, more than ${octal(probe.maxMode)} allows (extra bits ${octal(perm & ~probe.maxMode)})`);
  }
  if (probe.owner !== undefined) {
    const expected = typeof probe.owner === "number" ? probe.owner : facts.expectedUid;
    const named = typeof probe.owner === "string" ? `${probe.owner} (uid ${expected ?? "?"})` : `uid ${probe.owner}`;
    if (expected === null) problems.push(`should be owned by user ${probe.owner}, who does not exist in the node's /etc/passwd`);
    else if (expected !== undefined && stat.uid !== expected) problems.push(`is owned by uid ${stat.uid}, expected ${named}`);
  }
  if (probe.maxAgeSeconds !== undefined && ageMs > probe.maxAgeSeconds * 1000) {
    problems.push(`was last modified ${formatAge(ageMs)} ago (${isoTime(stat.mtimeMs)}), more than the ${formatAge(probe.maxAgeSeconds * 1000)} allowed`);
  }
  if (probe.matches) {
    const match = probe.matches.exec(facts.content ?? "");
    if (match) values["match"] = excerpt(match[0]);
    else problems.push(`has no match for /${probe.matches.source}/`);
  }
  if (problems.length > 0) return { outcome: "problem", detail: `${probe.path}${what} ${problems.join("; ")}`, values };
  const facts_ = [`mode ${values["mode"]}`, `owner ${stat.uid}`, `modified ${values["age"]} ago`];
  if (values["match"] !== undefined) facts_.push(`matches ${JSON.stringify(values["match"])}`);
  return { outcome: "ok", detail: `${probe.path}${what} exists (${facts_.join(", ")})`, values };
}

// ------------------------------------------------------------------ sysctl

function same(a: string, b: string): boolean {
  const x = Number(a);
  const y = Number(b);
  return a === b || (a.trim() !== "" && b.trim() !== "" && Number.isFinite(x) && Number.isFinite(y) && x === y);
}

/** Throws when an ordering compares a value that is not a number (the configuration picked the wrong sysctl): could not look. */
export function judgeSysctl(probe: ProbeOf<"sysctl">, value: string | undefined): Verdict {
  const expected = probe.op === "in" || probe.op === "notIn" ? probe.value.join(", ") : (probe.value[0] as string);
  const values: Values = { key: probe.key, value: value ?? "", op: probe.op, expected };
  if (value === undefined) {
    return {
      outcome: "problem",
      detail: `${probe.key} does not exist on this node (no /proc/sys entry): the kernel module that provides it is not loaded, or the name is wrong`,
      values,
    };
  }
  const target = probe.value[0] as string;
  let passed: boolean;
  switch (probe.op) {
    case "=":
      passed = same(value, target);
      break;
    case "!=":
      passed = !same(value, target);
      break;
    case "in":
      passed = probe.value.some((v) => same(value, v));
      break;
    case "notIn":
      passed = !probe.value.some((v) => same(value, v));
      break;
    default: {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n)) throw new Error(`${probe.key} is ${JSON.stringify(value)}, not a number: op ${probe.op} cannot compare it`);
      const t = Number(target);
      passed = probe.op === "<" ? n < t : probe.op === "<=" ? n <= t : probe.op === ">" ? n > t : n >= t;
    }
  }
  const wanted = probe.op === "in" ? `one of ${expected}` : probe.op === "notIn" ? `none of ${expected}` : `${probe.op} ${expected}`;
  return passed
    ? { outcome: "ok", detail: `${probe.key} = ${value} (${wanted})`, values }
    : { outcome: "problem", detail: `${probe.key} is ${value}, expected ${wanted}`, values };
}

// ------------------------------------------------------------------ unit

export function judgeUnit(probe: ProbeOf<"unit">, facts: UnitFacts): Verdict {
  const values: Values = {
    unit: probe.unit,
    activeState: facts.activeState ?? "",
    subState: facts.subState ?? "",
    unitFileState: facts.unitFileState ?? "",
    source: facts.source,
  };
  const state = facts.notFound
    ? `${probe.unit} does not exist (systemd: not-found)`
    : `${probe.unit} is ${facts.activeState ?? "in an unknown state"}${facts.subState ? ` (${facts.subState})` : ""}${facts.unitFileState ? `, ${facts.unitFileState}` : ""}`;
  const how = facts.source === "files" ? ` [judged from its files: ${facts.busProblem}]` : "";
  const problems: string[] = [];
  const check = (name: string, allowed: readonly string[] | undefined, actual: string | undefined) => {
    if (allowed && allowed.length > 0 && !allowed.includes(actual ?? "")) problems.push(`${name} ${actual || "(none)"} is not ${allowed.join(" or ")}`);
  };
  check("ActiveState", probe.activeState, facts.activeState);
  check("SubState", probe.subState, facts.subState);
  check("UnitFileState", probe.unitFileState, facts.notFound ? "" : facts.unitFileState);
  return problems.length > 0
    ? { outcome: "problem", detail: `${state}: ${problems.join("; ")}${how}`, values }
    : { outcome: "ok", detail: `${state}${how}`, values };
}

// ------------------------------------------------------------------ tcp, http

export function judgeTcp(probe: ProbeOf<"tcp">, facts: TcpFacts): Verdict {
  const address = probe.host.includes(":") ? `[${probe.host}]:${probe.port}` : `${probe.host}:${probe.port}`;
  const values: Values = { host: probe.host, port: String(probe.port), address, elapsedMs: String(facts.elapsedMs), error: facts.error ?? "" };
  if (probe.expect === "open") {
    return facts.connected
      ? { outcome: "ok", detail: `${address} accepts connections (${facts.elapsedMs} ms)`, values }
      : { outcome: "problem", detail: `${address} does not accept connections: ${facts.error ?? "no answer"}`, values };
  }
  return facts.connected
    ? { outcome: "problem", detail: `${address} accepts connections, but nothing may listen there`, values }
    : { outcome: "ok", detail: `${address} does not accept connections (${facts.error ?? "no answer"}), as required`, values };
}

export function judgeHttp(probe: ProbeOf<"http">, facts: HttpFacts): Verdict {
  const values: Values = {
    url: probe.url,
    status: facts.status !== undefined ? String(facts.status) : "",
    elapsedMs: String(facts.elapsedMs),
    error: facts.error ?? "",
    body: facts.body !== undefined ? excerpt(facts.body) : "",
  };
  const request = `${probe.method} ${probe.url}`;
  if (facts.status === undefined) return { outcome: "problem", detail: `${request} failed: ${facts.error ?? "no answer"}`, values };
  const status = facts.status;
  if (!probe.expectStatus.some(([low, high]) => status >= low && status <= high)) {
    const allowed = probe.expectStatus.map(([low, high]) => (low === high ? String(low) : high - low === 99 ? `${low / 100}xx` : `${low}–${high}`)).join(", ");
    return { outcome: "problem", detail: `${request} answered ${status}, expected ${allowed}`, values };
  }
  if (probe.bodyMatches && !probe.bodyMatches.test(facts.body ?? "")) {
    return { outcome: "problem", detail: `${request} answered ${status}, but its body has no match for /${probe.bodyMatches.source}/`, values };
  }
  return { outcome: "ok", detail: `${request} answered ${status} in ${facts.elapsedMs} ms`, values };
}

// ------------------------------------------------------------------ log

export function judgeLog(probe: ProbeOf<"log">, facts: LogFacts): Verdict {
  const source = facts.sources.join(" and ");
  const values: Values = { source, signature: "", count: "0", window: "", last: "", sample: "" };
  const noise = facts.noise > 0 ? `, ${facts.noise} noise lines ignored` : "";
  // Worst first, then the most recent.
  const [worst, ...others] = [...facts.active].sort((a, b) => (a.severity === b.severity ? b.lastMs - a.lastMs : a.severity === "critical" ? -1 : 1));
  if (!worst) return { outcome: "ok", detail: `Read ${facts.lines} lines from ${source}: no signature active${noise}`, values };
  const index = Number(worst.signature.id.split("/").pop());
  const pattern = probe.signatures[index]?.pattern.source ?? worst.signature.pattern.source;
  const count = worst.atLeast ? `more than ${worst.count}` : String(worst.count);
  Object.assign(values, worst.captures, {
    signature: worst.signature.reason,
    count,
    window: formatAge(worst.signature.windowMs),
    last: isoTime(worst.lastMs),
    sample: worst.sample,
  });
  const more = others.length > 0 ? ` (and ${others.length} more signature(s) active: ${[...new Set(others.map((o) => o.signature.reason))].join(", ")})` : "";
  return {
    outcome: "problem",
    severity: worst.severity,
    reason: worst.signature.reason,
    detail: `${count} line(s) matching /${pattern}/ in ${source} within ${values["window"]}, the last at ${values["last"]}: ${worst.sample}${more}`,
    values,
  };
}

// ------------------------------------------------------------------ npd-plugin

/** NPD's protocol: stdout, trimmed, is the message; past the cap it is cut, and says so. */
function pluginOutput(result: { stdout: { text: string; bytes: number; cut: boolean } }, maxOutputBytes: number): string {
  const text = result.stdout.text.trim();
  return result.stdout.cut ? `${text} … [output cut at ${maxOutputBytes} of ${result.stdout.bytes} bytes]` : text;
}

/**
 * Exit 0 ok, 1 problem, anything else unknown — NPD's custom-plugin protocol
 * (pkg/custompluginmonitor/plugin/plugin.go). Throws when the run was aborted
 * (shutdown, the check's own timeout): could not look.
 */
export function judgePlugin(probe: ProbeOf<"npd-plugin">, result: RunResult): Verdict {
  const values: Values = { path: probe.path, exitCode: "", output: "" };
  const logs = "see its stderr in the agent's log (kubectl logs on the node-doctor pod of this node)";
  switch (result.kind) {
    case "exited": {
      const output = pluginOutput(result, probe.maxOutputBytes);
      Object.assign(values, { exitCode: String(result.exitCode), output });
      const said = output || `${probe.path} exited ${result.exitCode} without output`;
      if (result.exitCode === 0) return { outcome: "ok", detail: said, values };
      if (result.exitCode === 1) return { outcome: "problem", detail: said, values };
      return {
        outcome: "unknown",
        reason: CUSTOM_REASONS.PluginUnknown,
        detail: `${probe.path} exited ${result.exitCode} (unknown in NPD's protocol)${output ? `: ${output}` : ""}`,
        remedy: `The plugin could not tell: ${logs}, or run it by hand in the node-doctor container.`,
        values,
      };
    }
    case "signalled": {
      const output = pluginOutput(result, probe.maxOutputBytes);
      values["output"] = output;
      return {
        outcome: "unknown",
        reason: CUSTOM_REASONS.PluginUnknown,
        detail: `${probe.path} was killed by ${result.signal}${output ? `: ${output}` : ""}`,
        remedy: `Something killed the plugin (a crash, the OOM killer): ${logs}.`,
        values,
      };
    }
    case "timedOut": {
      const output = pluginOutput(result, probe.maxOutputBytes);
      values["output"] = output;
      return {
        outcome: "unknown",
        reason: CUSTOM_REASONS.PluginTimedOut,
        detail: `${probe.path} did not finish within ${formatLimit(probe.timeoutSeconds * 1000)}: it was killed with its process group${output ? `; its output so far: ${output}` : ""}`,
        remedy: `Find what the plugin waits for (a hung mount, a command without a timeout), or raise its timeoutSeconds (below the check's).`,
        values,
      };
    }
    case "notStarted":
      return {
        outcome: "unknown",
        reason: CUSTOM_REASONS.PluginFailedToStart,
        detail: `${result.problem}`,
        remedy: `Check the plugin in node-doctor's container: the path (a ConfigMap mount), its #! line, its interpreter, its execute bit (mount the ConfigMap with defaultMode: 0555).`,
        values,
      };
    case "queued":
      return {
        outcome: "unknown",
        reason: CUSTOM_REASONS.PluginQueued,
        detail: `${probe.path} did not get to run: ${result.running} plugins were running for ${formatDuration(result.waitedMs)}, the most node-doctor runs at once`,
        remedy:
          "Spread the npd-plugin checks over longer intervals, shorten their timeouts, or turn declarative probes (file, sysctl, unit, tcp, http) into what they check.",
        values,
      };
    case "aborted":
      throw new Error(`${probe.path} was stopped: ${result.reason}`);
  }
}
