/**
 * containerd's config.toml as containerd loads it: every config version it
 * reads (1–4) with each version's plugin names, and `imports` followed
 * (globs included) and merged over the main file in containerd's order.
 *
 * Versions and plugin names, from containerd's source
 * (cmd/containerd/server/config/config.go, plugins/cri/runtime/plugin.go):
 * - 1 (containerd ≤ 1.x, no `version` key): short names, `[plugins.cri]`;
 * - 2 (containerd 1.3–1.7, 2.x migrates it): `[plugins."io.containerd.grpc.v1.cri"]`;
 * - 3 (containerd 2.0): the CRI plugin split in two; runtimes and CNI under
 *   `[plugins."io.containerd.cri.v1.runtime"]`, images under `"io.containerd.cri.v1.images"`;
 * - 4 (containerd 2.3): as 3, the debug listener moved to `[plugins."io.containerd.server.v1.debug"]`.
 * A file whose version node-doctor does not know, or cannot parse, is
 * "could not read", never "containerd refuses it": containerd may be running
 * on it right now.
 */
import * as path from "node:path";
import type { Host } from "../types.js";
import { throwIfOwnFailure } from "./could-not-look.js";
import { HostPathError } from "./host.js";
import { TomlError, parseToml, tomlGet, type TomlTable, type TomlValue } from "./toml.js";

export const CONTAINERD_VERSIONS = [1, 2, 3, 4] as const;
export type ContainerdVersion = (typeof CONTAINERD_VERSIONS)[number];

/** The plugin holding CRI's runtimes (`containerd.runtimes`) and `cni` in each config version. */
export const CRI_RUNTIME_PLUGIN: Record<ContainerdVersion, string> = {
  1: "cri",
  2: "io.containerd.grpc.v1.cri",
  3: "io.containerd.cri.v1.runtime",
  4: "io.containerd.cri.v1.runtime",
};

/** Names that disable the CRI plugin in `disabled_plugins`, whatever the version. */
const CRI_PLUGIN_NAMES = new Set(["cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"]);

/** Imported files followed at most (a glob matching thousands is read that far). */
const MAX_IMPORTS = 32;
const MAX_CONFIG_BYTES = 1024 * 1024;

export type ContainerdConfig =
  | {
      ok: true;
      version: ContainerdVersion;
      /** Files read, main first, in containerd's merge order. */
      files: string[];
      /** The CRI runtime plugin's table, every file's merged (each normalised to its own version's name). */
      cri: TomlTable;
      /** Where the CRI runtime table lives in the main file's version, for messages: `[plugins."io.containerd.grpc.v1.cri"]`. */
      criPlugin: string;
      criDisabled: boolean;
      /** The main file does not exist: containerd's defaults apply. */
      defaults: boolean;
    }
  /** node-doctor could not read it (bad TOML, an unknown version, unreadable): not a fact about containerd. */
  | { ok: false; problem: string; path: string };

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Tables merge key by key, anything else the later file replaces (containerd's mergo.WithOverride). */
function merge(into: TomlTable, from: TomlTable): TomlTable {
  const out: TomlTable = Object.create(null) as TomlTable;
  for (const [k, v] of Object.entries(into)) out[k] = v;
  for (const [k, v] of Object.entries(from)) {
    const current = out[k];
    out[k] = isTable(current) && isTable(v) ? merge(current, v) : v;
  }
  return out;
}

function versionOf(doc: TomlTable, file: string): ContainerdVersion | string {
  const raw = doc["version"] ?? 1;
  const version = typeof raw === "bigint" ? Number(raw) : raw;
  if (typeof version === "number" && (CONTAINERD_VERSIONS as readonly number[]).includes(version)) return version as ContainerdVersion;
  return `${file}: version = ${JSON.stringify(typeof raw === "bigint" ? Number(raw) : raw)}; node-doctor reads containerd config versions 1 to 4`;
}

/** One file's CRI runtime table under its own version's plugin name. */
function criTable(doc: TomlTable, version: ContainerdVersion): TomlTable {
  const table = tomlGet(doc, ["plugins", CRI_RUNTIME_PLUGIN[version]]);
  return isTable(table) ? table : (Object.create(null) as TomlTable);
}

function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        out += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Go's filepath.Glob over the node's files: every component may hold *, ? or [...]; matches in name order. */
export async function globNodePaths(host: Host, pattern: string): Promise<string[]> {
  let current = ["/"];
  for (const part of pattern.split("/").filter(Boolean)) {
    const next: string[] = [];
    for (const dir of current) {
      if (!/[*?[]/.test(part)) {
        next.push(path.posix.join(dir, part));
        continue;
      }
      let names: string[];
      try {
        names = await host.list(dir);
      } catch (error) {
        throwIfOwnFailure(error, dir);
        continue;
      }
      const re = globToRegExp(part);
      for (const name of [...names].sort()) if (re.test(name)) next.push(path.posix.join(dir, name));
    }
    current = next;
  }
  const out: string[] = [];
  for (const p of current) if (await host.exists(p)) out.push(p);
  return out;
}

async function readText(host: Host, file: string, signal?: AbortSignal): Promise<{ text: string } | { missing: true } | { problem: string }> {
  try {
    return { text: await host.readText(file, { maxBytes: MAX_CONFIG_BYTES, ...(signal ? { signal } : {}) }) };
  } catch (error) {
    signal?.throwIfAborted();
    throwIfOwnFailure(error, file);
    if (error instanceof HostPathError && error.code === "ENOENT") return { missing: true };
    return { problem: error instanceof HostPathError ? `${file} cannot be read: ${error.problem}` : String(error) };
  }
}

function parse(file: string, text: string): TomlTable | string {
  try {
    return parseToml(text);
  } catch (error) {
    return `${file}: ${error instanceof TomlError ? error.message : String(error)}`;
  }
}

/** One file: its version, its CRI runtime table (under its own version's name), whether it disables CRI, its imports. Pure. */
export function parseContainerdFile(
  file: string,
  text: string,
): { ok: true; version: ContainerdVersion; cri: TomlTable; criDisabled: boolean; imports: string[] } | { ok: false; path: string; problem: string } {
  const doc = parse(file, text);
  if (typeof doc === "string") return { ok: false, path: file, problem: doc };
  const version = versionOf(doc, file);
  if (typeof version === "string") return { ok: false, path: file, problem: version };
  const disabled = doc["disabled_plugins"];
  const criDisabled = Array.isArray(disabled) && disabled.some((p) => typeof p === "string" && CRI_PLUGIN_NAMES.has(p));
  const imports = doc["imports"] ?? [];
  if (!(Array.isArray(imports) && imports.every((i) => typeof i === "string")))
    return { ok: false, path: file, problem: `${file}: imports must be a list of paths` };
  return { ok: true, version, cri: criTable(doc, version), criDisabled, imports: imports as string[] };
}

/** A single file read alone (imports not followed), for judges and tests. Pure. */
export function containerdConfigFromText(file: string, text: string | undefined): ContainerdConfig {
  if (text === undefined)
    return { ok: true, version: 2, files: [], cri: Object.create(null) as TomlTable, criPlugin: CRI_RUNTIME_PLUGIN[2], criDisabled: false, defaults: true };
  const parsed = parseContainerdFile(file, text);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    version: parsed.version,
    files: [file],
    cri: parsed.cri,
    criPlugin: CRI_RUNTIME_PLUGIN[parsed.version],
    criDisabled: parsed.criDisabled,
    defaults: false,
  };
}

/** Reads a config from its texts: `texts(path)` gives each file (main first). Pure but for the reads it is handed. */
async function load(
  mainPath: string,
  read: (file: string) => Promise<{ text: string } | { missing: true } | { problem: string }>,
  glob: (pattern: string) => Promise<string[]>,
): Promise<ContainerdConfig> {
  const first = await read(mainPath);
  if ("problem" in first) return { ok: false, path: mainPath, problem: first.problem };
  if ("missing" in first)
    return { ok: true, version: 2, files: [], cri: Object.create(null) as TomlTable, criPlugin: CRI_RUNTIME_PLUGIN[2], criDisabled: false, defaults: true };
  const loaded = new Set<string>();
  const pending: Array<{ file: string; text?: string }> = [{ file: mainPath, text: first.text }];
  let version: ContainerdVersion | undefined;
  let cri: TomlTable = Object.create(null) as TomlTable;
  let criDisabled = false;
  const files: string[] = [];
  while (pending.length > 0 && files.length <= MAX_IMPORTS) {
    const next = pending.shift() as { file: string; text?: string };
    if (loaded.has(next.file)) continue;
    let text = next.text;
    if (text === undefined) {
      const got = await read(next.file);
      // containerd itself fails on a missing import named without a glob.
      if ("missing" in got) return { ok: false, path: next.file, problem: `${next.file}: imported by ${mainPath} but does not exist` };
      if ("problem" in got) return { ok: false, path: next.file, problem: got.problem };
      text = got.text;
    }
    const parsed = parseContainerdFile(next.file, text);
    if (!parsed.ok) return parsed;
    version ??= parsed.version;
    cri = merge(cri, parsed.cri);
    if (parsed.criDisabled) criDisabled = true;
    files.push(next.file);
    loaded.add(next.file);
    for (const raw of parsed.imports) {
      const clean = path.posix.normalize(raw);
      const full = clean.startsWith("/") ? clean : path.posix.join(path.posix.dirname(next.file), clean);
      if (full.includes("*") || full.includes("?") || full.includes("[")) for (const match of await glob(full)) pending.push({ file: match });
      else pending.push({ file: full });
    }
  }
  const main = version ?? 2;
  return { ok: true, version: main, files, cri, criPlugin: CRI_RUNTIME_PLUGIN[main], criDisabled, defaults: false };
}

/** Reads containerd's config at a node path, following imports. The agent's own read failures throw. */
export function readContainerdConfig(host: Host, mainPath: string, signal?: AbortSignal): Promise<ContainerdConfig> {
  return load(
    mainPath,
    (file) => readText(host, file, signal),
    (pattern) => globNodePaths(host, pattern),
  );
}

function tableName(segments: readonly string[]): string {
  return `[${segments.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join(".")}]`;
}

export type ContainerdCgroup =
  | { ok: true; systemd: boolean; detail: string }
  | { ok: false; problem: string }
  /** The CRI plugin is disabled: containerd is not kubelet's runtime here. */
  | { ok: true; criDisabled: true };

/** The default runtime's cgroup driver (SystemdCgroup) as the merged config says. */
export function containerdCgroupOf(config: ContainerdConfig, mainPath: string): ContainerdCgroup {
  if (!config.ok) return { ok: false, problem: config.problem };
  if (config.defaults)
    return { ok: true, systemd: false, detail: `${mainPath} does not exist, so containerd uses its default SystemdCgroup = false (cgroupfs)` };
  if (config.criDisabled) return { ok: true, criDisabled: true };
  const files = config.files.length > 1 ? `${config.files[0]} (with ${config.files.slice(1).join(", ")} imported)` : (config.files[0] ?? mainPath);
  const runtimeName = tomlGet(config.cri, ["containerd", "default_runtime_name"]) ?? "runc";
  if (typeof runtimeName !== "string") return { ok: false, problem: `${files}: default_runtime_name must be a string` };
  const segments = ["plugins", config.criPlugin, "containerd", "runtimes", runtimeName, "options"];
  const systemdCgroup = tomlGet(config.cri, ["containerd", "runtimes", runtimeName, "options", "SystemdCgroup"]);
  if (systemdCgroup !== undefined && typeof systemdCgroup !== "boolean")
    return { ok: false, problem: `${files}: SystemdCgroup in ${tableName(segments)} must be true or false, got ${JSON.stringify(systemdCgroup)}` };
  if (systemdCgroup !== undefined)
    return { ok: true, systemd: systemdCgroup, detail: `${files} sets SystemdCgroup = ${systemdCgroup} in ${tableName(segments)}` };
  // The legacy runtime (io.containerd.runtime.v1.linux) used the plugin-wide switch.
  if (config.version < 3 && tomlGet(config.cri, ["systemd_cgroup"]) === true)
    return { ok: true, systemd: true, detail: `${files} sets systemd_cgroup = true for the CRI plugin` };
  return { ok: true, systemd: false, detail: `${files} does not set SystemdCgroup in ${tableName(segments)}, so containerd uses cgroupfs` };
}

export interface ContainerdCniDirs {
  confDir?: string;
  binDirs?: string[];
  /** Why the file could not be used (bad TOML, wrong types); the defaults then apply. */
  problem?: string;
}

/** The CNI directories (`conf_dir`, `bin_dir`, or 2.x's `bin_dirs`) under the CRI plugin's `cni` table. */
export function containerdCniDirsOf(config: ContainerdConfig): ContainerdCniDirs {
  if (!config.ok) return { problem: config.problem };
  const where = config.files[0] ?? "containerd's config";
  const out: ContainerdCniDirs = {};
  const confDir = tomlGet(config.cri, ["cni", "conf_dir"]);
  if (typeof confDir === "string" && confDir !== "") out.confDir = confDir;
  else if (confDir !== undefined) out.problem = `${where}: conf_dir must be a string`;
  const binDirs = tomlGet(config.cri, ["cni", "bin_dirs"]);
  const binDir = tomlGet(config.cri, ["cni", "bin_dir"]);
  if (Array.isArray(binDirs) && binDirs.length > 0 && binDirs.every((d): d is string => typeof d === "string")) out.binDirs = binDirs;
  else if (typeof binDir === "string" && binDir !== "") out.binDirs = [binDir];
  else if (binDirs !== undefined || binDir !== undefined) out.problem = `${where}: bin_dir must be a string (bin_dirs a list of strings)`;
  return out;
}
