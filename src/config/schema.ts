/**
 * A small schema toolkit for configuration: each schema parses an unknown
 * value into a typed one or throws a ConfigError naming the key and the
 * problem in one line ("checks.disk.intervalSeconds: expected a number, got
 * the string \"30s\""). Unknown keys are errors, with a suggestion.
 */

import { nestedRepetition } from "../text/regex.js";

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(key ? `${key}: ${problem}` : problem);
    this.name = "ConfigError";
  }
}

export interface Schema<T> {
  /** Human description of what is expected, used in errors and docs. */
  readonly expected: string;
  parse(value: unknown, key: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${String(value)}`;
}

function fail(key: string, expected: string, value: unknown): never {
  throw new ConfigError(key, `expected ${expected}, got ${describeValue(value)}`);
}

export function number(options: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const expected = options.integer ? "an integer" : "a number";
  return {
    expected,
    parse(value, key) {
      if (typeof value !== "number" || !Number.isFinite(value)) fail(key, expected, value);
      if (options.integer && !Number.isInteger(value)) fail(key, expected, value);
      if (options.min !== undefined && value < options.min) throw new ConfigError(key, `must be at least ${options.min}, got ${value}`);
      if (options.max !== undefined && value > options.max) throw new ConfigError(key, `must be at most ${options.max}, got ${value}`);
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    expected: "true or false",
    parse(value, key) {
      if (typeof value !== "boolean") fail(key, "true or false", value);
      return value;
    },
  };
}

/** For string({ check }): a node path, which must be absolute. */
export function absolutePath(value: string): string | undefined {
  return value.startsWith("/") ? undefined : `must be an absolute path, got ${JSON.stringify(value)}`;
}

export function string(options: { nonEmpty?: boolean; check?: (value: string) => string | undefined } = {}): Schema<string> {
  return {
    expected: "a string",
    parse(value, key) {
      if (typeof value !== "string") fail(key, "a string", value);
      if (options.nonEmpty && value.trim() === "") throw new ConfigError(key, "must not be empty");
      const problem = options.check?.(value);
      if (problem) throw new ConfigError(key, problem);
      return value;
    },
  };
}

export function oneOf<const T extends string>(...choices: T[]): Schema<T> {
  const expected = `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  return {
    expected,
    parse(value, key) {
      if (typeof value !== "string" || !(choices as string[]).includes(value)) fail(key, expected, value);
      return value as T;
    },
  };
}

export function list<T>(item: Schema<T>, options: { maxItems?: number } = {}): Schema<T[]> {
  return {
    expected: `a list of ${item.expected.replace(/^an? /, "")}s`,
    parse(value, key) {
      if (!Array.isArray(value)) fail(key, "a list", value);
      if (options.maxItems !== undefined && value.length > options.maxItems) {
        throw new ConfigError(key, `has ${value.length} items, at most ${options.maxItems} allowed`);
      }
      return value.map((entry, index) => item.parse(entry, `${key}[${index}]`));
    },
  };
}

/** A mapping from free-form keys to values of one schema (e.g. threshold signal -> quantity). */
export function record<T>(valueSchema: Schema<T>, keyCheck?: (key: string) => string | undefined): Schema<Record<string, T>> {
  return {
    expected: "a mapping",
    parse(value, key) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) fail(key, "a mapping", value);
      const out: Record<string, T> = {};
      for (const [entryKey, entryValue] of Object.entries(value)) {
        const path = key ? `${key}.${entryKey}` : entryKey;
        const problem = keyCheck?.(entryKey);
        if (problem) throw new ConfigError(path, problem);
        out[entryKey] = valueSchema.parse(entryValue, path);
      }
      return out;
    },
  };
}

/** Marks a field optional: absent (undefined) stays undefined. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return {
    expected: schema.expected,
    parse: (value, key) => (value === undefined ? undefined : schema.parse(value, key)),
  };
}

/** Absent means the default. */
export function withDefault<T>(schema: Schema<T>, fallback: T): Schema<T> & { readonly fallback: T } {
  return {
    expected: schema.expected,
    fallback,
    parse: (value, key) => (value === undefined ? fallback : schema.parse(value, key)),
  };
}

type Shape = Record<string, Schema<unknown>>;
export type ObjectOf<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

export function suggest(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

/**
 * A mapping with known keys. Unknown keys are errors; an absent mapping is
 * parsed as {} so nested defaults apply.
 */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { readonly shape: S } {
  const known = Object.keys(shape);
  return {
    expected: "a mapping",
    shape,
    parse(value, key) {
      const input = value === undefined ? {} : value;
      if (input === null || typeof input !== "object" || Array.isArray(input)) fail(key, "a mapping", value);
      for (const entryKey of Object.keys(input)) {
        if (!Object.hasOwn(shape, entryKey)) {
          const hint = suggest(entryKey, known);
          const path = key ? `${key}.${entryKey}` : entryKey;
          throw new ConfigError(path, `unknown key${hint ? ` (did you mean "${hint}"?)` : ""}; known keys: ${known.join(", ")}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const [field, schema] of Object.entries(shape)) {
        out[field] = schema.parse((input as Record<string, unknown>)[field], key ? `${key}.${field}` : field);
      }
      return out as ObjectOf<S>;
    },
  };
}

/**
 * Checks `parsed` as a whole after its parts parsed (one field's meaning that
 * depends on another's). `check` returns problems as [key suffix, problem]:
 * the key names the offending field under the value's own key. What else the
 * schema carries (an object's `shape`) stays readable.
 */
export function refine<S extends Schema<unknown>>(schema: S, check: (value: Infer<S>) => [string, string] | undefined): S {
  return {
    ...schema,
    parse(value: unknown, key: string): Infer<S> {
      const parsed = schema.parse(value, key) as Infer<S>;
      const problem = check(parsed);
      if (problem) {
        const [suffix, text] = problem;
        throw new ConfigError(suffix === "" ? key : key ? `${key}${suffix.startsWith("[") ? "" : "."}${suffix}` : suffix, text);
      }
      return parsed;
    },
  };
}

type Variants = Record<string, Schema<Record<string, unknown>>>;
export type UnionOf<D extends string, V extends Variants> = { [K in keyof V & string]: { [P in D]: K } & Infer<V[K]> }[keyof V & string];

/**
 * A mapping whose `discriminator` key picks the schema of the rest:
 * `{kind: file, path: …}`. An unknown kind is an error naming the key and
 * the known kinds.
 */
export function union<const D extends string, V extends Variants>(discriminator: D, variants: V): Schema<UnionOf<D, V>> & { readonly variants: V } {
  const kinds = Object.keys(variants);
  const expected = `a mapping with ${discriminator}: ${kinds.join(" | ")}`;
  return {
    expected,
    variants,
    parse(value, key) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) fail(key, expected, value);
      const path = key ? `${key}.${discriminator}` : discriminator;
      const kind = (value as Record<string, unknown>)[discriminator];
      if (kind === undefined) throw new ConfigError(path, `missing; one of ${kinds.join(", ")}`);
      if (typeof kind !== "string" || !Object.hasOwn(variants, kind)) {
        const hint = typeof kind === "string" ? suggest(kind, kinds) : undefined;
        const shown = typeof kind === "string" ? JSON.stringify(kind) : describeValue(kind);
        throw new ConfigError(path, `unknown ${discriminator} ${shown}${hint ? ` (did you mean "${hint}"?)` : ""}; known: ${kinds.join(", ")}`);
      }
      const { [discriminator]: _, ...rest } = value as Record<string, unknown>;
      return { [discriminator]: kind, ...(variants[kind] as Schema<Record<string, unknown>>).parse(rest, key) } as UnionOf<D, V>;
    },
  };
}

/**
 * A regular expression (JavaScript syntax, multi-line: `^` and `$` match at
 * each line), compiled when the configuration loads. A leading `(?i)` (Go's
 * and RE2's spelling, as NPD configurations write it) makes it
 * case-insensitive. One that does not compile, or nests varying repetitions,
 * is an error naming the key.
 */
export function regex(): Schema<RegExp> {
  return {
    expected: "a regular expression",
    parse(value, key) {
      if (typeof value !== "string") fail(key, "a regular expression (a string)", value);
      if (value === "") throw new ConfigError(key, "must not be empty (it would match everything)");
      const insensitive = value.startsWith("(?i)");
      const source = insensitive ? value.slice(4) : value;
      let compiled: RegExp;
      try {
        compiled = new RegExp(source, insensitive ? "mi" : "m");
      } catch (error) {
        const detail = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, "") : String(error);
        throw new ConfigError(key, `is not a valid regular expression: ${detail}`);
      }
      if (nestedRepetition(source)) {
        throw new ConfigError(
          key,
          `${JSON.stringify(value)} repeats a group that itself repeats a varying number of times (like (a+)+): such a pattern can take exponential time on a line that almost matches; repeat the group an exact number of times or drop the inner quantifier`,
        );
      }
      return compiled;
    },
  };
}
