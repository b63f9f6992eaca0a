/**
 * The agent's log: one JSON object per line on stderr, in the shape log
 * collectors expect from pino (`level` as a label, ISO `time`, bindings,
 * fields, `msg` last). Written here rather than with pino: the agent logs a
 * few lines an hour, and pino's worker-thread machinery cost 4 MiB of the
 * 72 MiB budget (measured bundled, on this machine).
 */
import type { Log } from "../types.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AgentLog extends Log {
  child(bindings: object): AgentLog;
}

/** Errors become their message (a stack is for a developer's terminal, not a node's log). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function createJsonLog(options: { level: LogLevel; write: (line: string) => void; bindings?: object; now?: () => number }): AgentLog {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const now = options.now ?? Date.now;
  const bindings = options.bindings ?? {};
  const emit = (level: LogLevel) => (fields: object, message: string) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ level, time: new Date(now()).toISOString(), ...bindings, ...fields, msg: message }, replacer);
    } catch {
      line = JSON.stringify({ level, time: new Date(now()).toISOString(), ...bindings, msg: message, logError: "fields could not be serialised" });
    }
    options.write(`${line}\n`);
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (more) => createJsonLog({ ...options, bindings: { ...bindings, ...more } }),
  };
}
