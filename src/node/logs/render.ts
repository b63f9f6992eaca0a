/**
 * Turns an active signature into the words of a finding: its message and
 * remedy templates filled from the captures, and the evidence every log
 * finding carries (signature, count, last match, sample, captures).
 */
import { shellQuote } from "../../text/shell.js";
import type { ActiveSignature } from "./matcher.js";
import { formatAge, isoTime } from "../../text/format.js";

/** Fills `{name}` and `{name?text}` (text only when name has a value); `quote` wraps each value (a remedy's commands). */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>, quote: (value: string) => string = (v) => v): string {
  return template.replace(/\{(\w+)(?:\?([^}]*))?\}/g, (_, name: string, conditional: string | undefined) => {
    const value = Object.hasOwn(values, name) ? (values[name] ?? "") : "";
    if (conditional !== undefined) return value ? conditional : "";
    return value === "" ? "" : quote(value);
  });
}

/** The values a signature's templates may name: its captures, and {count}, {window}, {last}, {sample}. */
export function templateValues(active: ActiveSignature): Record<string, string> {
  return {
    ...active.captures,
    count: active.atLeast ? `more than ${active.count}` : String(active.count),
    window: formatAge(active.signature.windowMs),
    last: isoTime(active.lastMs),
    sample: active.sample,
  };
}

export interface RenderedSignature {
  message: string;
  remedy: string;
  evidence: Record<string, unknown>;
}

export function renderActive(active: ActiveSignature): RenderedSignature {
  const values = templateValues(active);
  return {
    message: renderTemplate(active.signature.message, values),
    // A remedy is pasted into a root shell and its values come from log lines: each one a quoted word.
    remedy: renderTemplate(active.signature.remedy, values, shellQuote),
    evidence: {
      signature: active.signature.id,
      count: active.count,
      lastMatchAt: isoTime(active.lastMs),
      sample: active.sample,
      ...(Object.keys(active.captures).length > 0 ? { captures: active.captures } : {}),
    },
  };
}
