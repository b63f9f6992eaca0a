/**
 * Message and remedy templates of custom checks: literal text with
 * `{{.field}}` (or `{{ .field }}`) where a probe's value goes. Nothing else
 * is allowed — no functions, pipelines, conditionals or method calls — so a
 * template can only ever print values, never run anything. Parsed when the
 * configuration loads; a field the probe does not provide is an error then,
 * not an empty string at 3 a.m.
 */
import type { Schema } from "../../config/schema.js";
import { ConfigError } from "../../config/schema.js";

export interface Template {
  readonly source: string;
  readonly parts: ReadonlyArray<string | { readonly field: string }>;
}

const ACTION = /^\s*\.([A-Za-z][A-Za-z0-9]*)\s*$/;

/** The template, or why it is not one. */
export function parseTemplate(source: string): Template | { problem: string } {
  const parts: Array<string | { field: string }> = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    if (open < 0) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    const close = rest.indexOf("}}", open + 2);
    if (close < 0) return { problem: `has an unclosed "{{" at ${JSON.stringify(rest.slice(open, open + 20))}` };
    const action = rest.slice(open + 2, close);
    const field = ACTION.exec(action)?.[1];
    if (field === undefined) {
      return { problem: `{{${action}}} is not a field: only {{.field}} is allowed (no functions, pipelines or conditions)` };
    }
    parts.push({ field });
    rest = rest.slice(close + 2);
  }
  return { source, parts };
}

/** The fields a template names, in order, without repeats. */
export function templateFields(template: Template): string[] {
  return [...new Set(template.parts.flatMap((part) => (typeof part === "string" ? [] : [part.field])))];
}

/**
 * Fills the template. `quote` wraps each value (remedies shell-quote theirs, so a
 * value read from the node cannot smuggle a command into one); a field without a
 * value (no HTTP status when nothing answered) renders as "".
 */
export function renderTemplate(template: Template, values: Readonly<Record<string, string | undefined>>, quote?: (value: string) => string): string {
  return template.parts
    .map((part) => {
      if (typeof part === "string") return part;
      const value = Object.hasOwn(values, part.field) ? (values[part.field] ?? "") : "";
      return quote && value !== "" ? quote(value) : value;
    })
    .join("");
}

/** A template in the configuration: `{{.field}}` syntax checked here, field names by the check that knows its probe. */
export function template(): Schema<Template> {
  return {
    expected: "a template (text with {{.field}})",
    parse(value, key) {
      if (typeof value !== "string") throw new ConfigError(key, `expected a template (text with {{.field}}), got ${typeof value}`);
      if (value.trim() === "") throw new ConfigError(key, "must not be empty");
      const parsed = parseTemplate(value);
      if ("problem" in parsed) throw new ConfigError(key, parsed.problem);
      return parsed;
    },
  };
}
