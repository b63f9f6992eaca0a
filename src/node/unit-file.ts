/**
 * The command line systemd would start a service with, read from its unit
 * file, drop-ins and environment files (no systemctl child). kubelet's flags
 * usually live there (kubeadm: 10-kubeadm.conf, kubeadm-flags.env,
 * /etc/default/kubelet), so when kubelet is not running — crash-looping on
 * a bad flag — this is where its flags can still be read.
 *
 * Follows systemd's rules closely enough for kubelet units: unit search
 * paths in priority order, drop-ins sorted by name with same-named files in
 * higher-priority directories winning, `ExecStart=` (empty) resetting the
 * list, line continuations, `Environment=` with quoted assignments,
 * `EnvironmentFile=` (a leading "-" means optional), and `$VAR` (split into
 * words) versus `${VAR}` (one word) in the command.
 */
import type { Host } from "../types.js";

/** systemd's system unit directories, highest priority first. */
export const UNIT_DIRS = ["/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"];

export interface UnitCommand {
  /** The command as systemd runs it, split into words, variables expanded. */
  argv: string[];
  /** Unit files and drop-ins read, in the order applied. */
  unitFiles: string[];
  /** Environment files read (missing optional ones are left out). */
  environmentFiles: string[];
  /** The text of every unit file and environment file read, in the order applied. */
  sources: Array<{ path: string; text: string }>;
  /**
   * Environment files that could not be read because their directory is not visible under the host root
   * (not mounted into node-doctor's pod): the command line may lack what they set.
   */
  unseen: string[];
  /** Problems met on the way (a required EnvironmentFile missing); systemd would refuse to start then. */
  problems: string[];
}

/** Splits a line into words the way systemd does: quotes group, backslash escapes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** "KEY=value" lines of an EnvironmentFile; quotes around the value are removed. */
export function parseEnvironmentFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  const joined = text.replace(/\\\r?\n/g, "");
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2] as string;
    const quoted = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(value) ?? /^'([^']*)'\s*(#.*)?$/.exec(value);
    if (quoted) value = (quoted[1] as string).replace(/\\(.)/g, "$1");
    env.set(match[1] as string, value);
  }
  return env;
}

/** Expands $VAR (into separate words) and ${VAR} (inside a word) as systemd does for ExecStart. */
export function expandCommand(line: string, env: ReadonlyMap<string, string>): string[] {
  const argv: string[] = [];
  for (const word of splitWords(line)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      argv.push(...splitWords(env.get(whole[1] as string) ?? ""));
      continue;
    }
    argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env.get(name) ?? ""));
  }
  return argv;
}

interface Directive {
  key: string;
  value: string;
}

/** The [Service] section's directives of one unit file, continuations joined. */
export function serviceDirectives(text: string): Directive[] {
  const directives: Directive[] = [];
  let section = "";
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] as string).trim();
    if (line.startsWith("#") || line.startsWith(";")) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = line.slice(0, -1) + " " + (lines[++i] as string).trim();
    }
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    directives.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return directives;
}

async function readOptional(host: Host, path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await host.readText(path, { maxBytes: 256 * 1024, ...(signal ? { signal } : {}) });
  } catch {
    return undefined;
  }
}

/** Reads `<name>` (e.g. "kubelet.service") from the host's unit directories; undefined when there is no such unit. */
export async function readUnitCommand(host: Host, name: string, signal?: AbortSignal): Promise<UnitCommand | undefined> {
  let main: { path: string; text: string } | undefined;
  for (const dir of UNIT_DIRS) {
    const text = await readOptional(host, `${dir}/${name}`, signal);
    if (text !== undefined) {
      main = { path: `${dir}/${name}`, text };
      break;
    }
  }
  // Drop-ins: by file name; the highest-priority directory's copy of a name wins.
  const dropIns = new Map<string, string>();
  for (const dir of [...UNIT_DIRS].reverse()) {
    let entries: string[];
    try {
      entries = await host.list(`${dir}/${name}.d`);
    } catch {
      continue;
    }
    for (const entry of entries) if (entry.endsWith(".conf")) dropIns.set(entry, `${dir}/${name}.d/${entry}`);
  }
  if (!main && dropIns.size === 0) return undefined;

  const files: Array<{ path: string; text: string }> = main ? [main] : [];
  for (const entry of [...dropIns.keys()].sort()) {
    const path = dropIns.get(entry) as string;
    const text = await readOptional(host, path, signal);
    if (text !== undefined) files.push({ path, text });
  }

  const env = new Map<string, string>();
  const environmentFiles: string[] = [];
  const sources = [...files];
  const problems: string[] = [];
  const unseen: string[] = [];
  let execStart: string | undefined;
  const envFileDirectives: string[] = [];
  for (const file of files) {
    for (const { key, value } of serviceDirectives(file.text)) {
      if (key === "Environment") {
        for (const assignment of splitWords(value)) {
          const eq = assignment.indexOf("=");
          if (eq > 0) env.set(assignment.slice(0, eq), assignment.slice(eq + 1));
        }
      } else if (key === "EnvironmentFile") {
        if (value === "") envFileDirectives.length = 0;
        else envFileDirectives.push(value);
      } else if (key === "ExecStart") {
        // An empty ExecStart= clears the list; a simple service keeps one command.
        execStart = value === "" ? undefined : value;
      }
    }
  }
  // systemd applies Environment= first and EnvironmentFile= over it.
  for (const directive of envFileDirectives) {
    const optional = directive.startsWith("-");
    const path = optional ? directive.slice(1) : directive;
    const text = await readOptional(host, path, signal);
    if (text === undefined) {
      const dir = path.slice(0, path.lastIndexOf("/")) || "/";
      if (!(await host.exists(dir))) unseen.push(path);
      else if (!optional) problems.push(`EnvironmentFile ${path} does not exist (systemd refuses to start the unit)`);
      continue;
    }
    environmentFiles.push(path);
    sources.push({ path, text });
    for (const [k, v] of parseEnvironmentFile(text)) env.set(k, v);
  }
  const command = (execStart ?? "").replace(/^[@\-:+!]+/, "");
  return { argv: command === "" ? [] : expandCommand(command, env), unitFiles: files.map((f) => f.path), environmentFiles, sources, unseen, problems };
}

/** For each flag name, the last source (in the order systemd applies them) whose text sets `--<flag>`. */
export function flagSources(sources: ReadonlyArray<{ path: string; text: string }>, flags: Iterable<string>): Record<string, string> {
  const found: Record<string, string> = {};
  for (const flag of flags) {
    const escaped = flag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = new RegExp(`(^|[\\s"'=])--?${escaped}($|[\\s"'=])`);
    for (const source of sources) {
      const lines = source.text.split("\n").filter((line) => !/^\s*[#;]/.test(line));
      if (lines.some((line) => pattern.test(line))) found[flag] = source.path;
    }
  }
  return found;
}

/** Files whose KUBELET_* variables become kubelet's arguments on kubeadm nodes (kubeadm's drop-in and the packages' defaults). */
export const KUBELET_ENVIRONMENT_FILES = ["/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet"];

/**
 * kubelet's arguments from kubeadm's environment files alone, for when the
 * unit itself is not visible (the chart mounts /etc/systemd and
 * /var/lib/kubelet, not /lib/systemd): every KUBELET_* variable, split as
 * systemd splits `$VAR`.
 */
export async function readEnvironmentArgs(host: Host, signal?: AbortSignal): Promise<{ args: string[]; sources: string[] }> {
  const args: string[] = [];
  const sources: string[] = [];
  for (const file of KUBELET_ENVIRONMENT_FILES) {
    const text = await readOptional(host, file, signal);
    if (text === undefined || text.includes("\0")) continue; // absent, or binary: not an environment file
    let used = false;
    for (const [name, value] of parseEnvironmentFile(text)) {
      if (!name.startsWith("KUBELET_")) continue;
      args.push(...splitWords(value));
      used = true;
    }
    if (used) sources.push(file);
  }
  return { args, sources };
}
