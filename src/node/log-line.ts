/**
 * One log line in any of the formats kubelet and the container runtimes
 * write, turned into a plain record: klog's header (`I0102 15:04:05.123456
 * 1234 file.go:123] msg`), structured klog (`"msg" key="value"`), JSON
 * logging (`{"ts":…,"msg":…}`), logfmt (containerd: `time="…" level=error
 * msg="…"`), and journald's JSON export (`journalctl -o json`), whose
 * MESSAGE is itself one of the others.
 *
 * Values of structured pairs are unquoted, so signatures match the text an
 * operator reads (`err=failed to run Kubelet: … "systemd" …`), not Go's
 * escaping. Pure and allocation-light: this runs for every line.
 */
import { readJsonFields } from "./json-fields.js";

/** `plain`: no known format where one was expected; `text`: a message that has no format to parse (the kernel's). */
export type LogFormat = "klog" | "json" | "logfmt" | "plain" | "text";

export interface LogRecord {
  format: LogFormat;
  /** Milliseconds since the epoch, when the line carries a time. */
  timeMs?: number;
  /** klog's letter: I, W, E or F (or the level name's first letter for JSON/logfmt). */
  severity?: string;
  /** The writer's process id (klog header, or journald's _PID). */
  pid?: number;
  /** Message and fields as one line of readable text; what signatures match. */
  text: string;
}

const KLOG_HEADER = /^([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{1,9})\s+(\d+) ([^\]\s]*)\] ?/;

/**
 * klog's header has no year and is in the node's local time (UTC on nearly
 * every node; see docs). The year is the one that puts the time closest to
 * `nowMs`, so December lines read in January land in the right year.
 */
export function klogTime(month: number, day: number, h: number, m: number, s: number, fraction: string, nowMs: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const year = new Date(nowMs).getUTCFullYear();
  const ms = Math.floor(Number(fraction.padEnd(3, "0").slice(0, 3)));
  let best: number | undefined;
  for (const y of [year - 1, year, year + 1]) {
    const t = Date.UTC(y, month - 1, day, h, m, s, ms);
    if (best === undefined || Math.abs(t - nowMs) < Math.abs(best - nowMs)) best = t;
  }
  return best;
}

/** Reads a Go-quoted string starting at `text[start] === '"'`; returns the value and the index after it. */
export function readQuoted(text: string, start: number): { value: string; end: number } | undefined {
  let out = "";
  let i = start + 1;
  let from = i;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) return { value: out + text.slice(from, i), end: i + 1 };
    if (c === 0x5c /* \ */) {
      out += text.slice(from, i);
      const next = text[i + 1];
      if (next === undefined) return undefined;
      if (next === "n") out += "\n";
      else if (next === "t") out += "\t";
      else if (next === "r") out += "\r";
      else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 4;
      } else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
        i += 2;
      } else out += next;
      i += 2;
      from = i;
      continue;
    }
    i++;
  }
  return undefined;
}

/**
 * `key=value key2="quoted value" …` as readable text: `key=value key2=quoted
 * value`. Unquoted values run to the next space; anything unparseable is
 * kept verbatim, so no text is lost for matching.
 */
export function unquotePairs(text: string): string {
  if (!text.includes('"')) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const quote = text.indexOf('"', i);
    if (quote < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, quote);
    const quoted = readQuoted(text, quote);
    if (!quoted) {
      out += text.slice(quote);
      break;
    }
    out += quoted.value;
    i = quoted.end;
  }
  return out;
}

/** Parses the part after a klog header: structured (`"msg" k="v"`) or printf-style. */
function klogBody(body: string): string {
  if (body.charCodeAt(0) !== 0x22) return body;
  const msg = readQuoted(body, 0);
  if (!msg) return body;
  const rest = body.slice(msg.end);
  return rest.length === 0 ? msg.value : `${msg.value}${unquotePairs(rest)}`;
}

/** A line that is a JSON object, or undefined. */
function jsonObject(line: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

const LEVEL_LETTER: Record<string, string> = { info: "I", warn: "W", warning: "W", error: "E", fatal: "F", panic: "F", debug: "I", trace: "I" };

function jsonRecord(line: string): LogRecord | undefined {
  const obj = jsonObject(line);
  if (!obj) return undefined;
  const msg = obj["msg"] ?? obj["message"];
  if (typeof msg !== "string") return undefined;
  const parts = [msg];
  for (const [key, v] of Object.entries(obj)) {
    if (key === "msg" || key === "message" || key === "ts" || key === "time" || key === "caller" || key === "v" || key === "level") continue;
    if (typeof v === "string") parts.push(`${key}=${v}`);
    else if (typeof v === "number" || typeof v === "boolean") parts.push(`${key}=${String(v)}`);
  }
  const record: LogRecord = { format: "json", text: parts.join(" ") };
  const ts = obj["ts"] ?? obj["time"];
  if (typeof ts === "number" && Number.isFinite(ts)) record.timeMs = ts > 1e12 ? ts : ts * 1000;
  else if (typeof ts === "string" && !Number.isNaN(Date.parse(ts))) record.timeMs = Date.parse(ts);
  const level = obj["level"];
  if (typeof level === "string") {
    const letter = LEVEL_LETTER[level.toLowerCase()];
    if (letter) record.severity = letter;
  } else if (typeof obj["err"] === "string") record.severity = "E";
  return record;
}

const LOGFMT_HEAD = /^time="([^"]+)" level=(\w+) /;

function logfmtRecord(line: string): LogRecord | undefined {
  const head = LOGFMT_HEAD.exec(line);
  if (!head) return undefined;
  const record: LogRecord = { format: "logfmt", text: unquotePairs(line.slice(head[0].length)) };
  const t = Date.parse(head[1] as string);
  if (!Number.isNaN(t)) record.timeMs = t;
  const letter = LEVEL_LETTER[(head[2] as string).toLowerCase()];
  if (letter) record.severity = letter;
  return record;
}

/**
 * Parses one line (without its newline). `plain` means no known format; the
 * text is still returned, so a bare `Error: failed to run Kubelet: …` on
 * stderr can match.
 */
export function parseLogLine(line: string, nowMs: number): LogRecord {
  const header = KLOG_HEADER.exec(line);
  if (header) {
    const record: LogRecord = { format: "klog", severity: header[1] as string, pid: Number(header[8]), text: klogBody(line.slice(header[0].length)) };
    const t = klogTime(Number(header[2]), Number(header[3]), Number(header[4]), Number(header[5]), Number(header[6]), header[7] as string, nowMs);
    if (t !== undefined) record.timeMs = t;
    return record;
  }
  const first = line.charCodeAt(0);
  if (first === 0x7b /* { */) {
    const json = jsonRecord(line);
    if (json) return json;
  } else if (first === 0x74 /* t */) {
    const logfmt = logfmtRecord(line);
    if (logfmt) return logfmt;
  }
  return { format: "plain", text: line };
}

/** The journal fields a reader may match on (journalctl's `FIELD=value` matches). */
export const JOURNAL_MATCH_FIELDS = ["_SYSTEMD_UNIT", "UNIT", "_PID", "_TRANSPORT", "SYSLOG_IDENTIFIER", "_COMM"] as const;
export type JournalMatchField = (typeof JOURNAL_MATCH_FIELDS)[number];

/** A journald entry as `journalctl -o json` prints it (only the fields we use). */
export interface JournalEntry {
  message: string;
  /** _SYSTEMD_UNIT, else UNIT (systemd's own lines about a unit). */
  unit?: string;
  identifier?: string;
  pid?: number;
  realtimeMs?: number;
  cursor?: string;
  /** The match fields the entry carries, as journald stored them. */
  fields: Partial<Record<JournalMatchField, string>>;
}

/** MESSAGE is a string, or an array of bytes when it is not valid UTF-8, or null when too large. */
function journalString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((b) => typeof b === "number")) return Buffer.from(value as number[]).toString("utf8");
  return undefined;
}

/** The fields of a journal entry we read, in the order readJsonFields returns them: the match fields first. */
const JOURNAL_FIELDS = [...JOURNAL_MATCH_FIELDS, "MESSAGE", "__REALTIME_TIMESTAMP", "__CURSOR"] as const;
const MESSAGE_INDEX = JOURNAL_MATCH_FIELDS.length;

/**
 * One line of `journalctl -o json`; undefined when it is not a JSON object
 * with a MESSAGE (counted by the caller as unparseable). Read with
 * readJsonFields, not JSON.parse (src/node/json-fields.ts says why).
 */
export function parseJournalJson(line: string): JournalEntry | undefined {
  const values = readJsonFields(line, JOURNAL_FIELDS);
  if (!values) return undefined;
  const message = journalString(values[MESSAGE_INDEX]);
  if (message === undefined) return undefined;
  const fields: JournalEntry["fields"] = {};
  for (let i = 0; i < MESSAGE_INDEX; i++) {
    const value = journalString(values[i]);
    if (value !== undefined) fields[JOURNAL_MATCH_FIELDS[i] as JournalMatchField] = value;
  }
  const entry: JournalEntry = { message, fields };
  const unit = fields._SYSTEMD_UNIT ?? fields.UNIT;
  if (unit) entry.unit = unit;
  if (fields.SYSLOG_IDENTIFIER) entry.identifier = fields.SYSLOG_IDENTIFIER;
  const pid = Number(fields._PID);
  if (Number.isInteger(pid) && pid > 0) entry.pid = pid;
  const realtime = journalString(values[MESSAGE_INDEX + 1]);
  if (realtime && /^\d+$/.test(realtime)) entry.realtimeMs = Math.floor(Number(realtime) / 1000);
  const cursor = journalString(values[MESSAGE_INDEX + 2]);
  if (cursor) entry.cursor = cursor;
  return entry;
}

/** A journald entry's MESSAGE parsed as a log line; journald's own timestamp wins over the line's. */
export function recordFromJournal(entry: JournalEntry, nowMs: number): LogRecord {
  const record = parseLogLine(entry.message, nowMs);
  if (entry.realtimeMs !== undefined) record.timeMs = entry.realtimeMs;
  if (record.pid === undefined && entry.pid !== undefined) record.pid = entry.pid;
  return record;
}

/** True for lines that are not text: NUL bytes, or mostly undecodable bytes. */
export function looksBinary(line: string): boolean {
  if (line.includes("\0")) return true;
  if (!line.includes("\ufffd")) return false;
  let bad = 0;
  for (let i = 0; i < line.length; i++) if (line.charCodeAt(i) === 0xfffd) bad++;
  return bad > 8 && bad * 10 > line.length;
}
