/**
 * TOML for the runtime configuration files node-doctor reads (containerd's
 * config.toml, CRI-O's crio.conf), through smol-toml: maintained, TOML 1.0
 * and the multi-line inline tables containerd accepts, no dependencies
 * (+0.2 MiB in the agent). Its tables have no prototype, so keys such as
 * `__proto__`, `constructor` or `toString` are plain keys: nothing a file
 * says reaches Object.prototype.
 *
 * Problems are data: a TomlError names the line and what was wrong, so the
 * check can quote it with the file's path.
 */
import { parse, TomlError as SmolTomlError } from "smol-toml";

export type TomlValue = string | number | bigint | boolean | Date | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = "TomlError";
  }
}

/** Parses a whole document; throws TomlError naming the line. */
export function parseToml(text: string): TomlTable {
  const nul = text.indexOf("\0");
  if (nul >= 0) throw new TomlError(text.slice(0, nul).split("\n").length, "binary data, not TOML");
  try {
    return parse(text) as TomlTable;
  } catch (error) {
    if (error instanceof SmolTomlError) {
      let problem = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
      // Quote what stands where it failed: "invalid value" alone does not say which.
      const token = /^[^\s#,\]}]+/.exec((text.split("\n")[error.line - 1] ?? "").slice(Math.max(0, error.column - 1)))?.[0];
      if (token && problem === "invalid value") problem += ` ${JSON.stringify(token.slice(0, 40))}`;
      throw new TomlError(error.line, problem);
    }
    throw error;
  }
}

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** The value at a key path ("plugins", "io.containerd.grpc.v1.cri", …); undefined when any step is missing. */
export function tomlGet(table: TomlTable, path: readonly string[]): TomlValue | undefined {
  let current: TomlValue | undefined = table;
  for (const key of path) {
    if (!isTable(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}
