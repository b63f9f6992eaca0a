/**
 * kubelet's KubeletConfiguration as kubelet assembles it: the `--config`
 * file, then every `*.conf` under `--config-dir` in kubelet's own order (a
 * lexical walk of the directory tree, Go's filepath.WalkDir) merged over it
 * as a JSON merge patch (RFC 7386: mappings merge key by key, lists and
 * scalars replace, null deletes), then the command-line flags over both.
 * kubelet reads the drop-ins with or without `--config` (k3s and RKE2 pass
 * `--config-dir` alone). "A flag overrides the config" is written here once.
 */
import { YAMLParseError } from "yaml";
import { parseUntrustedYaml, YamlLimitError } from "../../text/yaml.js";
import { HostPathError } from "../host.js";
import { throwIfOwnFailure, isAbsent } from "../could-not-look.js";
import type { Host } from "../../types.js";
import { parseBool, type KubeletFlags } from "./flags.js";
import { errorText } from "../../text/format.js";
import { isRecord } from "../../types.js";

/** A YAML document that must be a mapping, as read from the node; problems are data, with the path. */
export type LoadedDocument =
  | { path: string; ok: true; value: Record<string, unknown>; /** Lines of its top-level keys, for messages. */ keyLines?: Record<string, number> }
  | {
      path: string;
      ok: false;
      problem: string;
      /** The file does not exist. */
      missing?: boolean;
      /** Missing, and its directory is not visible under the host root either (not mounted into the pod). */
      unseen?: boolean;
    };

const MAX_DOCUMENT_BYTES = 1024 * 1024;

/**
 * Reads a YAML (or JSON) document that must be a mapping. Being cut off
 * (the signal aborted) or the agent's own failure (EMFILE) is not a problem
 * of the file: it throws, so no caller reports or caches it as one.
 */
export async function loadYamlMapping(host: Host, nodePath: string, signal?: AbortSignal): Promise<LoadedDocument> {
  let text: string;
  try {
    text = await host.readText(nodePath, { maxBytes: MAX_DOCUMENT_BYTES, ...(signal ? { signal } : {}) });
  } catch (error) {
    signal?.throwIfAborted();
    throwIfOwnFailure(error, nodePath);
    const problem = errorText(error);
    if (isAbsent(error)) {
      const dir = nodePath.slice(0, nodePath.lastIndexOf("/")) || "/";
      const unseen = !(await host.exists(dir));
      return { path: nodePath, ok: false, problem, missing: true, ...(unseen ? { unseen } : {}) };
    }
    return { path: nodePath, ok: false, problem: error instanceof HostPathError ? `${nodePath}: ${error.problem}` : problem };
  }
  return parseYamlMapping(nodePath, text);
}

export function parseYamlMapping(nodePath: string, text: string): LoadedDocument {
  if (text.includes("\0")) return { path: nodePath, ok: false, problem: `${nodePath}: binary data, not YAML` };
  let value: unknown;
  try {
    value = parseUntrustedYaml(text);
  } catch (error) {
    if (error instanceof YamlLimitError) return { path: nodePath, ok: false, problem: `${nodePath}: ${error.message}` };
    const detail =
      error instanceof YAMLParseError && error.linePos?.[0]
        ? `line ${error.linePos[0].line}: ${(error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`
        : error instanceof Error
          ? error.message.split("\n")[0]
          : String(error);
    return { path: nodePath, ok: false, problem: `${nodePath}: invalid YAML (${detail})` };
  }
  if (value === null || value === undefined) return { path: nodePath, ok: false, problem: `${nodePath}: is empty` };
  if (typeof value !== "object" || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "a list" : `a ${typeof value}`;
    return { path: nodePath, ok: false, problem: `${nodePath}: is ${kind}, expected a mapping` };
  }
  return { path: nodePath, ok: true, value: value as Record<string, unknown>, keyLines: topLevelKeyLines(text) };
}

/** Lines of top-level keys in a YAML mapping (keys at column 0), for messages. */
export function topLevelKeyLines(text: string): Record<string, number> {
  const lines: Record<string, number> = Object.create(null) as Record<string, number>;
  text.split("\n").forEach((line, index) => {
    const match = /^["']?([A-Za-z_][\w.-]*)["']?\s*:/.exec(line);
    if (match && !((match[1] as string) in lines)) lines[match[1] as string] = index + 1;
  });
  return lines;
}

/** Where kubeadm and most installers put the KubeletConfiguration. */
export const DEFAULT_KUBELET_CONFIG_PATH = "/var/lib/kubelet/config.yaml";

export interface KubeletConfigFiles {
  /** The `--config` file, when kubelet reads one. */
  file?: LoadedDocument;
  /** Whether `--config` named it (then a missing file stops kubelet). */
  fileFromFlag: boolean;
  /** `--config-dir`, when set. */
  dropInDir?: string;
  /** Its `*.conf` files in the order kubelet merges them (later ones win). */
  dropIns: LoadedDocument[];
  /** The file with every drop-in merged over it: what kubelet runs with, before flags. */
  merged: Record<string, unknown>;
}

/** Drop-in files read at most; a directory with more is read that far (bounded work whatever is there). */
const MAX_DROP_INS = 64;
const MAX_DROP_IN_DEPTH = 4;

/** The `*.conf` files under `dir` in filepath.WalkDir's order: each directory's entries by name, descending into subdirectories where they sort. */
export async function dropInPaths(host: Host, dir: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await host.list(current);
    } catch (error) {
      throwIfOwnFailure(error, current);
      return; // no directory: nothing to merge
    }
    // Go sorts by bytes; JavaScript's default sort by UTF-16 units agrees for the ASCII names installers use.
    for (const name of [...names].sort()) {
      if (out.length >= MAX_DROP_INS) return;
      signal?.throwIfAborted();
      const path = `${current.replace(/\/$/, "")}/${name}`;
      let kind: string;
      try {
        kind = (await host.stat(path)).kind;
      } catch (error) {
        throwIfOwnFailure(error, path);
        continue;
      }
      if (kind === "directory") {
        if (depth < MAX_DROP_IN_DEPTH) await walk(path, depth + 1);
      } else if (name.endsWith(".conf")) out.push(path);
    }
  };
  await walk(dir, 0);
  return out;
}

/** RFC 7386 JSON merge patch, as kubelet applies each drop-in (jsonpatch.MergePatch). Builds new objects; never writes a prototype. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (isRecord(target)) for (const [k, v] of Object.entries(target)) out[k] = v;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Reads the config file and drop-ins kubelet would read with these flags. `load` may cache by file. */
export async function readKubeletConfigFiles(
  host: Host,
  flags: KubeletFlags,
  options: { signal?: AbortSignal; load?: (path: string) => Promise<LoadedDocument>; assumeKubeadm?: boolean } = {},
): Promise<KubeletConfigFiles> {
  const load = options.load ?? ((path: string) => loadYamlMapping(host, path, options.signal));
  const flagPath = flags.values.get("config") || undefined;
  // Without --config kubelet reads no config file; only an unreadable command line makes the kubeadm path a guess worth taking.
  const path = flagPath ?? (options.assumeKubeadm ? DEFAULT_KUBELET_CONFIG_PATH : undefined);
  const files: KubeletConfigFiles = { fileFromFlag: flagPath !== undefined, dropIns: [], merged: {} };
  if (path) {
    const file = await load(path);
    // A guessed path that is not there is simply not read; one that is there but broken is reported.
    if (flagPath || !(!file.ok && file.missing)) files.file = file;
  }
  const dropInDir = flags.values.get("config-dir") || undefined;
  if (dropInDir) {
    files.dropInDir = dropInDir;
    for (const dropIn of await dropInPaths(host, dropInDir, options.signal)) files.dropIns.push(await load(dropIn));
  }
  return composeConfigFiles(files);
}

/** Fills in `merged`: the file, then each readable drop-in as a merge patch over it. Pure. */
export function composeConfigFiles(files: Omit<KubeletConfigFiles, "merged"> & { merged?: Record<string, unknown> }): KubeletConfigFiles {
  let merged: unknown = files.file?.ok ? files.file.value : {};
  for (const dropIn of files.dropIns) if (dropIn.ok) merged = mergePatch(merged, dropIn.value);
  return { ...files, merged: merged as Record<string, unknown> };
}

/** The document that sets a top-level key: the last drop-in that has it, else the config file. */
export function configSource(files: KubeletConfigFiles | undefined, key: string): { path: string; value: unknown; line?: number } | undefined {
  if (!files) return undefined;
  for (const dropIn of [...files.dropIns].reverse()) {
    if (dropIn.ok && Object.hasOwn(dropIn.value, key)) {
      const line = dropIn.keyLines?.[key];
      return { path: dropIn.path, value: files.merged[key], ...(line ? { line } : {}) };
    }
  }
  if (!files.file?.ok || !Object.hasOwn(files.file.value, key)) return undefined;
  const line = files.file.keyLines?.[key];
  return { path: files.file.path, value: files.merged[key], ...(line ? { line } : {}) };
}

/** A setting's effective value and where it came from, for messages. */
export interface Setting<T> {
  value: T;
  /** "--fail-swap-on=true", "failSwapOn: true in /var/lib/kubelet/config.yaml line 4", "kubelet's default". */
  source: string;
  from: "flag" | "config" | "default";
  /** The file and line that set it, when from the config. */
  path?: string;
  line?: number;
}

function where(source: { path: string; line?: number }): string {
  return source.line ? `${source.path} line ${source.line}` : source.path;
}

/** Where a key is set, for remedies: "/var/lib/kubelet/config.yaml line 12", or the config file when no file sets it. */
export function configAt(files: KubeletConfigFiles | undefined, key: string): string {
  const source = configSource(files, key);
  if (source) return where(source);
  return files?.file?.path ?? files?.dropInDir ?? "kubelet's --config file";
}

/** A string setting: the flag, else the merged config, else undefined. */
export function stringSetting(flags: KubeletFlags, files: KubeletConfigFiles | undefined, flag: string, key?: string): Setting<string> | undefined {
  const raw = flags.values.get(flag);
  if (raw !== undefined) return { value: raw, source: `--${flag}=${raw}`, from: "flag" };
  const source = key ? configSource(files, key) : undefined;
  if (source && typeof source.value === "string" && source.value !== "")
    return {
      value: source.value,
      source: `${key}: ${source.value} in ${where(source)}`,
      from: "config",
      path: source.path,
      ...(source.line ? { line: source.line } : {}),
    };
  return undefined;
}

/** A list setting: the flag (comma-separated, as pflag's string slices), else the merged config's list of strings. */
export function listSetting(flags: KubeletFlags, files: KubeletConfigFiles | undefined, flag: string, key?: string): Setting<string[]> | undefined {
  const raw = flags.values.get(flag);
  if (raw !== undefined)
    return {
      value: raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
      source: `--${flag}=${raw}`,
      from: "flag",
    };
  const source = key ? configSource(files, key) : undefined;
  if (source && Array.isArray(source.value)) {
    const value = source.value.filter((v): v is string => typeof v === "string" && v !== "");
    return {
      value,
      source: `${key}: [${value.join(", ")}] in ${where(source)}`,
      from: "config",
      path: source.path,
      ...(source.line ? { line: source.line } : {}),
    };
  }
  return undefined;
}

/** A boolean setting: the flag (strconv.ParseBool), else the merged config, else kubelet's default. */
export function boolSetting(
  flags: KubeletFlags,
  files: KubeletConfigFiles | undefined,
  flag: string,
  key: string | undefined,
  fallback: boolean,
): Setting<boolean> {
  const raw = flags.values.get(flag);
  const parsed = raw === undefined ? undefined : parseBool(raw);
  if (parsed !== undefined) return { value: parsed, source: `--${flag}=${raw}`, from: "flag" };
  const source = key ? configSource(files, key) : undefined;
  if (source && typeof source.value === "boolean")
    return {
      value: source.value,
      source: `${key}: ${source.value} in ${where(source)}`,
      from: "config",
      path: source.path,
      ...(source.line ? { line: source.line } : {}),
    };
  return { value: fallback, source: "kubelet's default", from: "default" };
}

/** A raw config value after merging (for keys with no flag). */
export function configValue(files: KubeletConfigFiles | undefined, key: string): unknown {
  return files?.merged[key];
}
