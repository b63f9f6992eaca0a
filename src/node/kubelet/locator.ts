/**
 * Where kubelet is and how it was told to run: its process, its flags and its
 * KubeletConfiguration file. Several checks need this (disk thresholds,
 * certificates, runtime endpoint, config lint); one locator per agent finds
 * it and caches the answer briefly so a round of checks scans /proc once.
 */
import { YAMLParseError } from "yaml";
import { parseUntrustedYaml } from "../../text/yaml.js";
import type { Clock, Host } from "../../types.js";
import { findProcessesByName, readProcess, bootTimeSeconds, type ProcessInfo } from "../proc.js";

export const DEFAULT_KUBELET_ROOT_DIR = "/var/lib/kubelet";
/** Where kubeadm and most installers put the KubeletConfiguration. */
export const DEFAULT_KUBELET_CONFIG_PATH = "/var/lib/kubelet/config.yaml";

/**
 * kubelet's boolean flags: pflag lets `--flag value` take the next word for
 * every other flag, so the parser must know which ones take none.
 */
const BOOLEAN_FLAGS = new Set([
  "add-dir-header",
  "allow-privileged",
  "alsologtostderr",
  "anonymous-auth",
  "cgroups-per-qos",
  "enable-controller-attach-detach",
  "enable-debugging-handlers",
  "enable-load-reader",
  "enable-server",
  "exit-on-lock-contention",
  "fail-swap-on",
  "help",
  "keep-terminated-pod-volumes",
  "kernel-memcg-notification",
  "local-storage-capacity-isolation",
  "log-json-split-stream",
  "logtostderr",
  "make-iptables-util-chains",
  "one-output",
  "protect-kernel-defaults",
  "register-node",
  "register-schedulable",
  "require-kubeconfig",
  "rotate-certificates",
  "rotate-server-certificates",
  "seccomp-default",
  "serialize-image-pulls",
  "skip-headers",
  "skip-log-headers",
  "experimental-check-node-capabilities-before-mount",
  "experimental-mounter-path-exists",
]);

export interface KubeletFlags {
  /** Last value of each flag, name without dashes: "config" -> "/var/lib/kubelet/config.yaml". */
  values: ReadonlyMap<string, string>;
  /** Every flag occurrence in order, for rules that care about repeats. */
  occurrences: ReadonlyArray<{ name: string; value: string }>;
  /** Words that are not flags (e.g. "kubelet" after "hyperkube"). */
  positional: readonly string[];
}

/** Parses kubelet's argv (without argv[0]) the way pflag does. */
export function parseKubeletFlags(args: readonly string[]): KubeletFlags {
  const values = new Map<string, string>();
  const occurrences: Array<{ name: string; value: string }> = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === "-") {
      positional.push(arg);
      continue;
    }
    const name = match[1] as string;
    let value = match[2];
    if (value === undefined) {
      const next = args[i + 1];
      if (BOOLEAN_FLAGS.has(name) || next === undefined || next.startsWith("-")) value = "true";
      else {
        value = next;
        i++;
      }
    }
    values.set(name, value);
    occurrences.push({ name, value });
  }
  return { values, occurrences, positional };
}

export type LoadedDocument = { path: string; ok: true; value: Record<string, unknown> } | { path: string; ok: false; problem: string };

/**
 * Reads a YAML (or JSON) document that must be a mapping; problems are data,
 * with the path. Being cut off (the signal aborted) is not a problem of the
 * file: it throws, so no caller reports or caches it as one.
 */
export async function loadYamlMapping(host: Host, nodePath: string, signal?: AbortSignal): Promise<LoadedDocument> {
  let text: string;
  try {
    text = await host.readText(nodePath, { maxBytes: 1024 * 1024, ...(signal ? { signal } : {}) });
  } catch (error) {
    signal?.throwIfAborted();
    return { path: nodePath, ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
  return parseYamlMapping(nodePath, text);
}

export function parseYamlMapping(nodePath: string, text: string): LoadedDocument {
  if (text.includes("\0")) return { path: nodePath, ok: false, problem: `${nodePath}: binary data, not YAML` };
  let value: unknown;
  try {
    value = parseUntrustedYaml(text);
  } catch (error) {
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
  return { path: nodePath, ok: true, value: value as Record<string, unknown> };
}

export interface KubeletSetup {
  /** The running kubelet, when there is one. */
  process?: ProcessInfo;
  /** More than one kubelet process is itself a finding for the kubelet check. */
  otherProcesses: ProcessInfo[];
  flags: KubeletFlags;
  /** --config, else the kubeadm default when that file exists. */
  configPath?: string;
  /** The KubeletConfiguration, when configPath is set. */
  config?: LoadedDocument;
  /** --root-dir or the default. */
  rootDir: string;
}

const EMPTY_FLAGS: KubeletFlags = { values: new Map(), occurrences: [], positional: [] };

/** Finding kubelet reads /proc and one small file: a few milliseconds, or a hung host. */
const DISCOVERY_DEADLINE_MS = 5000;

/** Finds kubelet once per short period for every check that asks. */
export class KubeletLocator {
  private cached?: { atMonotonicMs: number; setup: Promise<KubeletSetup> };
  private lastPid?: number;
  /**
   * kubelet's config as last parsed, reused while the file keeps its inode,
   * size and mtime: discovery runs a dozen times a minute, and parsing the
   * YAML cost more CPU than everything else it does (0.6 of 1.05 ms).
   */
  private parsedConfig?: { path: string; signature: string; document: LoadedDocument };

  constructor(
    private readonly host: Host,
    private readonly clock: Clock,
    private readonly cacheMs = 2000,
  ) {}

  /**
   * The shared discovery runs under its own deadline, not the first caller's
   * signal: one check timing out must not hand the others a cut-off result.
   * Each caller still stops waiting when its own signal aborts.
   */
  locate(signal?: AbortSignal): Promise<KubeletSetup> {
    const now = this.clock.monotonic();
    let setup: Promise<KubeletSetup>;
    if (this.cached && now - this.cached.atMonotonicMs < this.cacheMs) setup = this.cached.setup;
    else {
      setup = this.discover(AbortSignal.timeout(DISCOVERY_DEADLINE_MS));
      const entry = { atMonotonicMs: now, setup };
      this.cached = entry;
      setup.catch(() => {
        if (this.cached === entry) delete this.cached;
      });
    }
    if (!signal) return setup;
    signal.throwIfAborted();
    return new Promise<KubeletSetup>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      setup.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async findKubelet(signal?: AbortSignal): Promise<ProcessInfo[]> {
    // Fast path: the kubelet we saw last time is usually still there.
    if (this.lastPid !== undefined) {
      const boot = await bootTimeSeconds(this.host, signal);
      const same = await readProcess(this.host, this.lastPid, { ...(boot !== undefined ? { bootTimeSeconds: boot } : {}), ...(signal ? { signal } : {}) });
      if (same && isKubelet(same)) return [same];
    }
    let processes: ProcessInfo[];
    try {
      processes = await findProcessesByName(this.host, "kubelet", signal);
    } catch {
      processes = []; // no /proc under the root: not running, as far as we can tell
    }
    const kubelets = processes.filter(isKubelet);
    if (kubelets[0]) this.lastPid = kubelets[0].pid;
    else delete this.lastPid;
    return kubelets;
  }

  private async loadConfig(path: string, signal?: AbortSignal): Promise<LoadedDocument> {
    let signature: string | undefined;
    try {
      const st = await this.host.stat(path);
      signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // loadYamlMapping says what is wrong with it
    }
    const parsed = this.parsedConfig;
    if (signature !== undefined && parsed?.path === path && parsed.signature === signature) return parsed.document;
    const document = await loadYamlMapping(this.host, path, signal);
    if (signature === undefined) delete this.parsedConfig;
    else this.parsedConfig = { path, signature, document };
    return document;
  }

  private async discover(signal?: AbortSignal): Promise<KubeletSetup> {
    const [process, ...otherProcesses] = await this.findKubelet(signal);
    const flags = process ? parseKubeletFlags(kubeletArgs(process.argv)) : EMPTY_FLAGS;
    const rootDir = flags.values.get("root-dir") || DEFAULT_KUBELET_ROOT_DIR;
    let configPath = flags.values.get("config") || undefined;
    if (!configPath && (await this.host.exists(DEFAULT_KUBELET_CONFIG_PATH))) configPath = DEFAULT_KUBELET_CONFIG_PATH;
    const setup: KubeletSetup = { otherProcesses, flags, rootDir };
    if (process) setup.process = process;
    if (configPath) {
      setup.configPath = configPath;
      setup.config = await this.loadConfig(configPath, signal);
    }
    return setup;
  }
}

function isKubelet(process: ProcessInfo): boolean {
  const argv0 = process.argv[0]?.split("/").at(-1);
  return argv0 === "kubelet" || (argv0 === "hyperkube" && process.argv[1] === "kubelet") || (process.comm === "kubelet" && process.argv.length > 0);
}

/** kubelet's own arguments, skipping argv[0] (and "kubelet" after hyperkube). */
export function kubeletArgs(argv: readonly string[]): string[] {
  const rest = argv.slice(1);
  return argv[0]?.endsWith("hyperkube") && rest[0] === "kubelet" ? rest.slice(1) : rest;
}
