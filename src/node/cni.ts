/**
 * The node's CNI configuration as a container runtime loads it: the files in
 * the config directory (".conf", ".conflist", ".json", in name order, as
 * libcni lists them), each parsed the way libcni does, and whether every
 * plugin they name has a binary in a plugin directory.
 *
 * containerd loads the first file in name order and fails on a broken one
 * before it, so only files up to and including the first valid one matter.
 */
import type { Host } from "../types.js";
import { containerdCniDirsOf, containerdConfigFromText, type ContainerdCniDirs, type ContainerdConfig } from "./containerd-config.js";
import { errorText } from "../text/format.js";
import { isRecord } from "../types.js";
import { parseUntrustedJson } from "../text/json.js";

export const DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d";
export const DEFAULT_CNI_BIN_DIRS = ["/opt/cni/bin"];

const CONFIG_EXTENSIONS = [".conf", ".conflist", ".json"];
const MAX_CONFIG_BYTES = 1024 * 1024;
/** A directory with more entries than this is read only that far: bounded work whatever is there. */
const MAX_CONFIG_FILES = 256;

export interface CniConfigFile {
  /** Node path. */
  path: string;
  /** Why the runtime cannot load it; absent when it can. */
  problem?: string;
  /** The network name. */
  name?: string;
  /** Plugin types ("bridge", "calico", "portmap"), in chain order, each followed by its IPAM plugin's type. */
  pluginTypes: string[];
}

export interface CniPluginMissing {
  file: string;
  type: string;
}

export interface CniState {
  confDir: string;
  binDirs: string[];
  /** "missing" or "unreadable: …" when the directory itself cannot be listed. */
  confDirProblem?: string;
  /** Config files up to and including the first valid one, in load order. */
  files: CniConfigFile[];
  /** The file the runtime uses, when one is valid. */
  active?: CniConfigFile;
  /** Plugins of the active file with no binary in any bin dir. */
  missingPlugins: CniPluginMissing[];
}

function checkedType(type: unknown, where: string): string {
  if (typeof type !== "string" || type === "") throw new Error(`${where} has no "type"`);
  if (type.includes("/")) throw new Error(`${where} has type ${JSON.stringify(type)}, which may not contain "/"`);
  return type;
}

/** A plugin's type and its IPAM plugin's type: both are executables the runtime runs. */
function pluginTypes(plugin: unknown, where: string): string[] {
  if (!isRecord(plugin)) throw new Error(`${where} is not an object`);
  const types = [checkedType(plugin["type"], where)];
  const ipam = plugin["ipam"];
  if (isRecord(ipam) && ipam["type"] !== undefined) types.push(checkedType(ipam["type"], `${where}.ipam`));
  return types;
}

/** Parses one config file's text as libcni would; problems are returned, not thrown. */
export function parseCniConfig(path: string, text: string): CniConfigFile {
  const file: CniConfigFile = { path, pluginTypes: [] };
  let value: unknown;
  try {
    value = parseUntrustedJson(text);
  } catch (error) {
    file.problem = `is not valid JSON (${errorText(error)})`;
    return file;
  }
  if (!isRecord(value)) {
    file.problem = "is not a JSON object";
    return file;
  }
  if (typeof value["name"] === "string") file.name = value["name"];
  try {
    // A .conflist holds a chain under "plugins"; a .conf/.json is a single plugin.
    if (path.endsWith(".conflist")) {
      if (!file.name) throw new Error('has no "name"');
      const plugins = value["plugins"];
      if (!Array.isArray(plugins)) throw new Error('has no "plugins" list');
      if (plugins.length === 0) throw new Error('has an empty "plugins" list');
      file.pluginTypes = plugins.flatMap((p, i) => pluginTypes(p, `plugins[${i}]`));
    } else {
      file.pluginTypes = pluginTypes(value, "the network");
    }
  } catch (error) {
    file.problem = errorText(error);
  }
  return file;
}

export type { ContainerdCniDirs } from "./containerd-config.js";

/** The CNI directories one containerd config file names (its imports not followed). Pure. */
export function cniDirsFromContainerdConfig(path: string, text: string): ContainerdCniDirs {
  return containerdCniDirsOf(containerdConfigFromText(path, text));
}

export interface CniDirs {
  confDir: string;
  binDirs: string[];
  /** Why containerd's config gave no directories to use (bad TOML, wrong types): the defaults apply. */
  problem?: string;
}

/**
 * Where the runtime reads CNI files: the operator's setting, else
 * containerd's `conf_dir`/`bin_dir` (its imports merged), else
 * /etc/cni/net.d and /opt/cni/bin. Pure; the one place that says so.
 */
export function cniDirs(containerd: ContainerdConfig | undefined, settings: { confDir?: string | undefined; binDirs?: string[] | undefined } = {}): CniDirs {
  let fromContainerd: ContainerdCniDirs = {};
  if (containerd && !(containerd.ok && containerd.defaults) && (!settings.confDir || !settings.binDirs)) fromContainerd = containerdCniDirsOf(containerd);
  return {
    confDir: settings.confDir ?? fromContainerd.confDir ?? DEFAULT_CNI_CONF_DIR,
    binDirs: settings.binDirs ?? fromContainerd.binDirs ?? DEFAULT_CNI_BIN_DIRS,
    ...(fromContainerd.problem ? { problem: fromContainerd.problem } : {}),
  };
}

async function isExecutable(host: Host, nodePath: string): Promise<boolean> {
  try {
    const st = await host.stat(nodePath);
    return st.kind === "file" && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Reads the config dir and checks the active file's plugins against the bin dirs. */
export async function readCniState(host: Host, options: { confDir: string; binDirs: string[]; signal?: AbortSignal }): Promise<CniState> {
  const { confDir, binDirs, signal } = options;
  const state: CniState = { confDir, binDirs, files: [], missingPlugins: [] };
  let names: string[];
  try {
    names = await host.list(confDir);
  } catch (error) {
    const problem = errorText(error);
    state.confDirProblem = /does not exist/.test(problem) ? "does not exist" : problem.replace(`${confDir}: `, "");
    return state;
  }
  const configs = names
    .filter((n) => CONFIG_EXTENSIONS.some((ext) => n.endsWith(ext)))
    .sort()
    .slice(0, MAX_CONFIG_FILES);
  for (const name of configs) {
    signal?.throwIfAborted();
    const path = `${confDir.replace(/\/$/, "")}/${name}`;
    let file: CniConfigFile;
    try {
      const text = await host.readText(path, { maxBytes: MAX_CONFIG_BYTES, ...(signal ? { signal } : {}) });
      file = parseCniConfig(path, text);
    } catch (error) {
      signal?.throwIfAborted();
      const problem = errorText(error);
      file = { path, pluginTypes: [], problem: `cannot be read (${problem.replace(`${path}: `, "")})` };
    }
    state.files.push(file);
    if (!file.problem) {
      state.active = file;
      break;
    }
  }
  if (state.active) {
    for (const type of new Set(state.active.pluginTypes)) {
      let found = false;
      for (const dir of binDirs) {
        if (await isExecutable(host, `${dir.replace(/\/$/, "")}/${type}`)) {
          found = true;
          break;
        }
      }
      if (!found) state.missingPlugins.push({ file: state.active.path, type });
    }
  }
  return state;
}
