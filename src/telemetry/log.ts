/**
 * The agent's log, on pino: one JSON object per line on stderr, written
 * synchronously (no transport, no worker thread: a line is on stderr before
 * the process can die), `level` as its label, ISO `time`, bindings, fields,
 * `msg` last. `--log-format pretty` loads pino-pretty, only then, for a
 * person running the agent in a terminal. Its cost: docs/performance.md.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import { isoTimeMs } from "../text/format.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino's logger: the agent's Log, and what fastify's request log is bound to. */
export type AgentLog = Logger;

/** Keys pino writes itself: a field of the same name would be a second key that log parsers take instead. */
const RESERVED = new Set(["level", "time", "msg"]);

/** Errors become their message (a stack is for a developer's terminal, not a node's log); bigints their digits. */
function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[RESERVED.has(key) ? `field_${key}` : key] = value instanceof Error ? value.message : typeof value === "bigint" ? value.toString() : value;
  }
  return out;
}

interface LogOptions {
  level: LogLevel;
  bindings?: object;
  /** Tests: where lines go (default stderr, synchronously) and the clock. */
  write?: (line: string) => void;
  now?: () => number;
}

function build(options: LogOptions, destination: DestinationStream): AgentLog {
  const now = options.now ?? Date.now;
  return pino(
    {
      level: options.level,
      base: options.bindings ?? {},
      // No serializers: `err` is plain() like every field (pino's would write the stack).
      serializers: {},
      timestamp: () => `,"time":"${isoTimeMs(now())}"`,
      formatters: { level: (label) => ({ level: label }), bindings: plain, log: plain },
    },
    destination,
  );
}

export function createJsonLog(options: LogOptions): AgentLog {
  const write = options.write;
  return build(options, write ? { write: (line: string) => write(line) } : pino.destination({ fd: 2, sync: true }));
}

/** The same log, coloured and aligned for a terminal (pino-pretty, loaded now and only now). */
export async function createPrettyLog(options: Omit<LogOptions, "write"> & { colour: boolean }): Promise<AgentLog> {
  const { default: pretty } = await import("pino-pretty");
  return build(options, pretty({ destination: 2, sync: true, colorize: options.colour, translateTime: "SYS:HH:MM:ss.l", ignore: "component" }));
}
