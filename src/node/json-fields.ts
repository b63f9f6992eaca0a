/**
 * Reads chosen fields of a one-line JSON object (`journalctl -o json`)
 * without JSON.parse on the whole line.
 *
 * Why: V8's JSON.parse internalizes short string values, and internalized
 * strings live in the old generation. journald gives every entry short
 * unique values (__REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP, __SEQNUM), so
 * in a journal flood each parsed entry left dead strings in the old
 * generation until the next full collection: about 50 KiB/s at 2,000 parsed
 * entries/s, several MiB of resident memory within a minute (measured:
 * docs/performance.md). Here a plain string value is a slice of the line,
 * a young string that dies with the entry; JSON.parse sees only a value
 * that needs decoding (escapes, byte arrays), never the unique timestamps.
 *
 * Values that are not read are skipped, checking only that their strings
 * and brackets close: a line that is not a well-formed object yields
 * undefined, as JSON.parse would.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** The index of the quote that closes a string opened just before `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let from = start;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (quote - backslashes - 1 >= start && text.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && isSpace(text.charCodeAt(at))) at++;
  return at;
}

/** Where the value starting at `start` ends (exclusive), or -1 when it does not close. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) {
    const end = stringEnd(text, start + 1);
    return end < 0 ? -1 : end + 1;
  }
  if (first === OPEN_BRACKET || first === OPEN_BRACE) {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === QUOTE) {
        i = stringEnd(text, i + 1);
        if (i < 0) return -1;
      } else if (code === OPEN_BRACKET || code === OPEN_BRACE) depth++;
      else if ((code === CLOSE_BRACKET || code === CLOSE_BRACE) && --depth === 0) return i + 1;
    }
    return -1;
  }
  // A number or a literal: up to the next delimiter.
  let i = start;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === COMMA || code === CLOSE_BRACE || isSpace(code)) break;
    i++;
  }
  return i > start ? i : -1;
}

/** Decodes one value; throws on a malformed one. */
function decode(text: string, start: number, end: number): unknown {
  if (text.charCodeAt(start) === QUOTE) {
    const raw = text.slice(start + 1, end - 1);
    if (!raw.includes("\\")) return raw;
  }
  return JSON.parse(text.slice(start, end));
}

/**
 * The values of `keys` in the object on `line`, in the order of `keys`
 * (undefined for a key that is absent; the last wins when one repeats), or
 * undefined when the line is not a JSON object.
 */
export function readJsonFields(line: string, keys: readonly string[]): unknown[] | undefined {
  const values: unknown[] = new Array<unknown>(keys.length).fill(undefined);
  let at = skipSpace(line, 0);
  if (line.charCodeAt(at) !== OPEN_BRACE) return undefined;
  at = skipSpace(line, at + 1);
  if (line.charCodeAt(at) === CLOSE_BRACE) return skipSpace(line, at + 1) === line.length ? values : undefined;
  for (;;) {
    if (line.charCodeAt(at) !== QUOTE) return undefined;
    const keyEnd = stringEnd(line, at + 1);
    if (keyEnd < 0) return undefined;
    const keyStart = at + 1;
    const keyLength = keyEnd - keyStart;
    at = skipSpace(line, keyEnd + 1);
    if (line.charCodeAt(at) !== COLON) return undefined;
    at = skipSpace(line, at + 1);
    const end = valueEnd(line, at);
    if (end < 0) return undefined;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      if (key.length !== keyLength || !line.startsWith(key, keyStart)) continue;
      try {
        values[k] = decode(line, at, end);
      } catch {
        return undefined;
      }
    }
    at = skipSpace(line, end);
    const next = line.charCodeAt(at);
    if (next === CLOSE_BRACE) return skipSpace(line, at + 1) === line.length ? values : undefined;
    if (next !== COMMA) return undefined;
    at = skipSpace(line, at + 1);
  }
}
