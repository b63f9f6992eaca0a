/**
 * The one set of formatters for what findings, remedies, logs and reports print: durations,
 * times, byte counts, error text, and text from the node made printable. A check that writes
 * a second one makes the same fact read differently in two messages; add a case here instead.
 *
 * Durations use one vocabulary — "ms", "s", "min", "h", "d"/"days", spaced — in three
 * precisions: a measured span with two units (`formatDuration`), an age or window with one
 * (`formatAge`), and a configured limit as the operator wrote it (`formatLimit`). The kubectl
 * plugin's AGE column alone keeps kubectl's own compact style (fleet/render-status.ts), so that
 * it lines up with `kubectl get nodes`.
 */

const MINUTE_S = 60;
const HOUR_S = 3600;
const DAY_S = 86_400;

/**
 * A measured span, sign dropped, to two units with the last rounded: "350 ms", "5.0 s",
 * "12 min 5 s", "3 h 2 min", "1 d 4 h"; from two days on the hours are noise: "12 days".
 */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${abs < 10 ? abs.toFixed(1) : Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(1)} s`;
  const s = Math.round(abs / 1000);
  if (s < HOUR_S) return `${Math.floor(s / MINUTE_S)} min ${s % MINUTE_S} s`;
  // Rounded to the last unit shown: an offset measured at 2:59:59.6 (the API
  // server's Date header has whole seconds) reads "3 h 0 min", not "2 h 59 min".
  const minutes = Math.round(s / MINUTE_S);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  if (s < 2 * DAY_S) {
    const hours = Math.round(s / HOUR_S);
    return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  }
  // Whole days elapsed, never more: a certificate with 342 days and 21 h left has 342 days.
  return `${Math.floor(s / DAY_S)} days`;
}

/** Picks the one unit an age is told in: seconds up to 2 min, minutes up to 2 h, hours up to 2 days, then days. */
function ageUnit(s: number): "s" | "min" | "h" | "days" {
  if (s < 2 * MINUTE_S) return "s";
  if (s < 2 * HOUR_S) return "min";
  if (s < 2 * DAY_S) return "h";
  return "days";
}

const UNIT_S = { s: 1, min: MINUTE_S, h: HOUR_S, days: DAY_S } as const;

/** An age or a window, to one unit, rounded: "45 s", "10 min", "120 min", "3 h", "175 days". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const unit = ageUnit(s);
  return `${Math.round(s / UNIT_S[unit])} ${unit}`;
}

/** A configured limit, as an operator writes it: "500 ms", "1 s", "2.5 s". */
export function formatLimit(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(3))} s` : `${Math.round(ms)} ms`;
}

/** RFC 3339 to the second, as the API server stores metav1.Time and as every message states a time: "2026-11-24T12:00:00Z". */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : String(ms);
}

/** ISO 8601 with milliseconds, for what machines read: JSON answers, log lines, the status page. */
export function isoTimeMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** Binary units, one decimal above bytes: "512 B", "1.5 KiB", "12.0 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What went wrong, in words: an Error's message, anything else thrown as a string. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The first line of errorText: parsers (YAML, X.509) put a source excerpt on the lines after it. */
export function errorLine(error: unknown): string {
  return errorText(error).split("\n")[0] ?? "";
}

/**
 * Text from the node (log lines, runtime and healthz answers) ends up in
 * terminals, NodeConditions and Events. Control characters in it could move
 * a terminal's cursor or change its title: line breaks become spaces, every
 * other control character (tab aside) becomes U+FFFD.
 */
// Written with \u escapes: C0 controls except tab and line breaks, DEL, and the C1 range.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(/\r\n|\r|\n/g, " ").replace(CONTROL, "\uFFFD");
}
