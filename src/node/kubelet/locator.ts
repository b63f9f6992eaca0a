/**
 * Where kubelet is and how it was told to run: its process, its flags, its
 * KubeletConfiguration (file and drop-ins) and its kubeconfig. Several checks
 * need this (disk thresholds, certificates, runtime endpoint, config lint);
 * one locator per agent finds it and caches the answer briefly so a round of
 * checks scans /proc once.
 *
 * Which process is kubelet is decided with care (a confused deputy otherwise:
 * node-doctor runs as root and reads the files kubelet's flags name). A
 * process is taken for kubelet only when it runs as uid 0, and its
 * executable (or, when /proc/<pid>/exe cannot be read, its argv[0]) is a
 * kubelet binary: one of the distributions' install paths or the one the
 * kubelet unit starts. Among several, the unit's MainPID as systemd reports
 * it wins. Any other process named kubelet is ignored: its flags are never
 * parsed and the files they name are never read.
 */
import type { Clock, Host } from "../../types.js";
import { detectDistribution, type Distribution } from "../distro/index.js";
import { findProcessesByName, findProcessesNamed, readProcess, bootTimeSeconds, stillRunning, type ProcessInfo } from "../proc.js";
import { readKubeletConfigFiles, loadYamlMapping, type KubeletConfigFiles, type LoadedDocument } from "./config.js";
import { FileCache } from "../file-cache.js";
import { kubeletArgs, NO_FLAGS, parseKubeletFlags, type KubeletFlags } from "./flags.js";
import { KubeletVersionSources } from "./version-sources.js";
import type { VersionFact } from "./version.js";
import { withDeadline } from "../../time/deadline.js";

export { loadYamlMapping, parseYamlMapping, DEFAULT_KUBELET_CONFIG_PATH, type LoadedDocument } from "./config.js";
export { kubeletArgs, parseKubeletFlags, type KubeletFlags } from "./flags.js";

export const DEFAULT_KUBELET_ROOT_DIR = "/var/lib/kubelet";

/**
 * Where installers put the kubelet binary: packages (/usr/bin), tarball and
 * EKS AL2 installs (/usr/local/bin, /usr/bin), Flatcar/CoreOS (/opt/bin),
 * snaps, GKE's COS image (/home/kubernetes/bin). RKE2 runs its own copy under
 * /var/lib/rancher/rke2/data/<release>/bin (matched by prefix).
 */
export const KUBELET_BINARIES = ["/usr/bin/kubelet", "/usr/local/bin/kubelet", "/opt/bin/kubelet", "/snap/bin/kubelet", "/home/kubernetes/bin/kubelet"];
const KUBELET_BINARY_PREFIXES = ["/var/lib/rancher/rke2/", "/snap/kubelet/", "/usr/libexec/kubernetes/"];

export interface IgnoredProcess {
  pid: number;
  /** Why it is not taken for kubelet: "runs as uid 1000", "its executable is /tmp/kubelet". */
  why: string;
}

export interface KubeletSetup {
  /** Which installer built the node: paths, units and remedy wording. */
  distribution: Distribution;
  /** The running kubelet, when there is one that can be trusted (on k3s: the k3s process kubelet runs inside). */
  process?: ProcessInfo;
  /** kubelet runs inside `process` (k3s): its flags are the distribution's, not a command line. */
  embedded?: boolean;
  /** More trusted kubelet processes: itself a finding for the kubelet check. */
  otherProcesses: ProcessInfo[];
  /** Processes named kubelet that are not trusted; nothing they name is read. */
  ignored: IgnoredProcess[];
  flags: KubeletFlags;
  /** The --config file and --config-dir drop-ins as kubelet reads them. */
  configFiles: KubeletConfigFiles;
  /**
   * The configuration kubelet runs with, for checks that read single keys: the
   * --config file with every drop-in merged over it (path: the file, else the
   * drop-in directory), or the file's problem.
   */
  config?: LoadedDocument;
  /** --config (or the drop-in directory when there is no file). */
  configPath?: string;
  /** --root-dir or the default. */
  rootDir: string;
  /** --kubeconfig, when set. */
  kubeconfigPath?: string;
}

/** The distribution is told from files that change with a reinstall, not a restart: looked at again this often. */
const DISTRIBUTION_REFRESH_MS = 60_000;
/** The kubelet check's liveness view: a discovery at most this old (kubelet dies → True within 30 s). */
const FRESH_MS = 2000;

/** Finding kubelet reads /proc and a few small files: a few milliseconds, or a hung host. */
const DISCOVERY_DEADLINE_MS = 5000;

/** Whether a process may be taken for kubelet; undefined when it may, else why not. */
export function distrust(process: ProcessInfo, options: { liveHost: boolean; unitBinary?: string }): string | undefined {
  if (process.uid) {
    if (process.uid.real !== 0 || process.uid.effective !== 0)
      return `it runs as uid ${process.uid.real !== 0 ? process.uid.real : process.uid.effective}, not root`;
  } else if (options.liveHost) {
    // The kernel always shows /proc/<pid>/status; without it nothing says who owns the process.
    return "its owner cannot be read from /proc/<pid>/status";
  }
  const program = process.exe ?? process.argv[0] ?? "";
  // An exiting process shows an empty command line: only its comm is left to go by (the owner was checked above).
  if (program === "") return process.comm === "kubelet" ? undefined : "its executable cannot be read";
  const base = program.split("/").at(-1);
  if (base !== "kubelet" && base !== "hyperkube") return `its executable is ${program || "unknown"}, not a kubelet binary`;
  if (!program.startsWith("/")) return process.exe === undefined ? undefined : `its executable is ${program}`;
  if (options.unitBinary && program === options.unitBinary) return undefined;
  if (KUBELET_BINARIES.includes(program) || KUBELET_BINARY_PREFIXES.some((p) => program.startsWith(p))) return undefined;
  return `its executable ${program} is not a kubelet install path${options.unitBinary ? ` nor the unit's ${options.unitBinary}` : ""}`;
}

/** Finds kubelet once per short period for every check that asks. */
export class KubeletLocator {
  private cached?: { atMonotonicMs: number; setup: Promise<KubeletSetup> };
  /** The kubelet process trusted at the last discovery. */
  private lastTrusted?: ProcessInfo;
  private boot?: { atMonotonicMs: number; seconds?: number };
  private mainPid?: number;
  private unitBinary?: string;
  private detected?: { atMonotonicMs: number; distribution: Distribution };
  /** kubelet's config files and kubeconfig as last parsed, reused while each file is unchanged. */
  readonly documents = new FileCache<LoadedDocument>();
  /** kubelet's version from the node's files, each source read again only when it changes. */
  readonly versions: KubeletVersionSources;

  constructor(
    private readonly host: Host,
    private readonly clock: Clock,
    /** How old a discovery other checks are handed (their runs spread over the minute; each would discover afresh). */
    private readonly cacheMs = 15_000,
  ) {
    this.versions = new KubeletVersionSources(host);
  }

  /**
   * kubelet's version as the node's files say (packages, the distribution's record, the binary),
   * without asking the API server or running kubelet.
   */
  localVersion(setup: KubeletSetup, signal?: AbortSignal): Promise<VersionFact | undefined> {
    const running = setup.process ? [setup.process.exe, setup.process.argv[0]] : [];
    const binaries = [...new Set([...running, this.unitBinary, ...KUBELET_BINARIES, ...(setup.distribution.binaries ?? [])])].filter(
      (b): b is string => typeof b === "string" && b.startsWith("/"),
    );
    return this.versions.find({
      binaries,
      ...(setup.distribution.versionFile ? { versionFile: setup.distribution.versionFile } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * What systemd reports for the kubelet unit (the kubelet check asks it over
   * D-Bus): its MainPID is preferred, and its binary is trusted.
   */
  noteUnit(unit: { mainPid?: number; binary?: string }): void {
    if (unit.mainPid && unit.mainPid !== this.mainPid) {
      this.mainPid = unit.mainPid;
      delete this.cached;
    }
    if (unit.binary) this.unitBinary = unit.binary;
  }

  /**
   * The shared discovery runs under its own deadline, not the first caller's
   * signal: one check timing out must not hand the others a cut-off result.
   * Each caller still stops waiting when its own signal aborts.
   */
  locate(signal?: AbortSignal, options: { fresh?: boolean } = {}): Promise<KubeletSetup> {
    const now = this.clock.monotonic();
    const maxAgeMs = options.fresh ? Math.min(this.cacheMs, FRESH_MS) : this.cacheMs;
    let setup: Promise<KubeletSetup>;
    if (this.cached && now - this.cached.atMonotonicMs < maxAgeMs) setup = this.cached.setup;
    else {
      setup = withDeadline(this.clock, DISCOVERY_DEADLINE_MS, undefined, (signal) => this.discover(signal));
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

  /** Loads a kubelet YAML file (config, drop-in, kubeconfig) through the shared cache. */
  load(path: string, signal?: AbortSignal): Promise<LoadedDocument> {
    return this.documents.get(this.host, path, () => loadYamlMapping(this.host, path, signal));
  }

  private async findKubelet(signal?: AbortSignal): Promise<{ trusted: ProcessInfo[]; ignored: IgnoredProcess[] }> {
    const options = { liveHost: this.host.root === "/", ...(this.unitBinary ? { unitBinary: this.unitBinary } : {}) };
    // Fast path: the kubelet we trusted last time is usually still there, and one read of its
    // /proc/<pid>/stat says so (six files for a full read; discovery runs several times a minute).
    const last = this.lastTrusted;
    if (last && (this.mainPid === undefined || this.mainPid === last.pid)) {
      const boot = await this.bootTime(signal);
      if (boot !== undefined && (await stillRunning(this.host, last, boot, signal))) return { trusted: [last], ignored: [] };
      const same = await readProcess(this.host, last.pid, {
        ...(boot !== undefined ? { bootTimeSeconds: boot } : {}),
        ...(signal ? { signal } : {}),
        owner: true,
      });
      if (same && isKubeletProcess(same) && !distrust(same, options)) {
        this.lastTrusted = same;
        return { trusted: [same], ignored: [] };
      }
    }
    let processes: ProcessInfo[];
    try {
      processes = await findProcessesByName(this.host, "kubelet", signal, { owner: true });
    } catch (error) {
      if (!/does not exist/.test(String(error))) throw error; // EMFILE and the like: could not look
      processes = []; // no /proc under the root: not running, as far as we can tell
    }
    const trusted: ProcessInfo[] = [];
    const ignored: IgnoredProcess[] = [];
    for (const p of processes.filter(isKubeletProcess)) {
      const why = distrust(p, options);
      if (why) ignored.push({ pid: p.pid, why });
      else trusted.push(p);
    }
    // systemd's MainPID first, then the oldest.
    trusted.sort((a, b) => Number(b.pid === this.mainPid) - Number(a.pid === this.mainPid) || a.pid - b.pid);
    if (trusted[0]) this.lastTrusted = trusted[0];
    else delete this.lastTrusted;
    return { trusted, ignored };
  }

  /** The node's boot time (/proc/stat's btime), read again once a minute: it changes only with a reboot. */
  private async bootTime(signal?: AbortSignal): Promise<number | undefined> {
    const now = this.clock.monotonic();
    if (!this.boot || now - this.boot.atMonotonicMs >= DISTRIBUTION_REFRESH_MS) {
      const seconds = await bootTimeSeconds(this.host, signal);
      this.boot = { atMonotonicMs: now, ...(seconds !== undefined ? { seconds } : {}) };
    }
    return this.boot.seconds;
  }

  /** The distribution, told again once a minute. */
  async distribution(): Promise<Distribution> {
    const now = this.clock.monotonic();
    if (!this.detected || now - this.detected.atMonotonicMs >= DISTRIBUTION_REFRESH_MS)
      this.detected = { atMonotonicMs: now, distribution: await detectDistribution(this.host) };
    return this.detected.distribution;
  }

  /** k3s runs kubelet inside its own process: that process, and the flags k3s gives kubelet. */
  private async findEmbedded(distribution: Distribution, signal?: AbortSignal): Promise<{ process: ProcessInfo; flags: KubeletFlags } | undefined> {
    const host = distribution.embeddedIn;
    if (!host) return undefined;
    const names = [host.program, ...host.subcommands.map((s) => `${host.program}-${s}`)];
    let candidates: ProcessInfo[];
    try {
      candidates = await findProcessesNamed(this.host, names, signal, { owner: true });
    } catch (error) {
      if (!/does not exist/.test(String(error))) throw error;
      return undefined;
    }
    const liveHost = this.host.root === "/";
    const process = candidates
      .filter((p) => !(p.uid ? p.uid.real !== 0 || p.uid.effective !== 0 : liveHost))
      .filter((p) => (p.exe ?? p.argv[0] ?? "").split("/").at(-1)?.startsWith(host.program))
      .sort((a, b) => a.pid - b.pid)[0];
    if (!process) return undefined;
    // k3s hands kubelet its own flags, then every --kubelet-arg (command line first, then /etc/rancher/k3s/config.yaml).
    const extra: string[] = [];
    const own = parseKubeletFlags(process.argv.slice(1));
    for (const o of own.occurrences) if (o.name === "kubelet-arg") extra.push(`--${o.value}`);
    const config = await this.load(`/etc/rancher/${host.program}/config.yaml`, signal);
    const listed = config.ok ? config.value["kubelet-arg"] : undefined;
    for (const arg of Array.isArray(listed) ? listed : typeof listed === "string" ? [listed] : [])
      if (typeof arg === "string") extra.push(`--${arg.replace(/^--/, "")}`);
    return { process, flags: parseKubeletFlags([...(distribution.embeddedFlags ?? []), ...extra]) };
  }

  private async discover(signal?: AbortSignal): Promise<KubeletSetup> {
    const distribution = await this.distribution();
    const { trusted, ignored } = await this.findKubelet(signal);
    let [process, ...otherProcesses] = trusted;
    let flags = process ? parseKubeletFlags(kubeletArgs(process.argv)) : NO_FLAGS;
    let embedded = false;
    if (!process) {
      const inside = await this.findEmbedded(distribution, signal);
      if (inside) {
        ({ process, flags } = inside);
        otherProcesses = [];
        embedded = true;
      } else if (distribution.embeddedFlags) flags = parseKubeletFlags([...distribution.embeddedFlags]); // k3s down: what it will hand kubelet
    }
    const cmdlineEmpty = process !== undefined && process.argv.every((a) => a === "");
    const configFiles = await readKubeletConfigFiles(this.host, flags, {
      ...(signal ? { signal } : {}),
      load: (path) => this.load(path, signal),
      // No kubelet (or an unreadable command line): kubeadm's path is the best guess of what it would read.
      assumeKubeadm: (!process && !distribution.embeddedFlags) || cmdlineEmpty,
    });
    const setup: KubeletSetup = {
      distribution,
      otherProcesses,
      ignored,
      flags,
      configFiles,
      rootDir: flags.values.get("root-dir") || DEFAULT_KUBELET_ROOT_DIR,
    };
    if (process) setup.process = process;
    if (embedded) setup.embedded = true;
    const kubeconfig = flags.values.get("kubeconfig");
    if (kubeconfig) setup.kubeconfigPath = kubeconfig;
    Object.assign(setup, effectiveConfig(configFiles));
    return setup;
  }
}

/** The merged view checks read single keys from (see KubeletSetup.config). */
export function effectiveConfig(files: KubeletConfigFiles): Pick<KubeletSetup, "config" | "configPath"> {
  const file = files.file;
  if (file && !file.ok) return { config: file, configPath: file.path };
  const okDropIns = files.dropIns.some((d) => d.ok);
  if (!file && !okDropIns) return {};
  const path = file?.path ?? (files.dropInDir as string);
  return { configPath: path, config: { path, ok: true, value: files.merged, keyLines: file?.ok ? file.keyLines : {} } };
}

export function isKubeletProcess(process: ProcessInfo): boolean {
  const argv0 = process.argv[0]?.split("/").at(-1);
  return argv0 === "kubelet" || (argv0 === "hyperkube" && process.argv[1] === "kubelet") || (process.comm === "kubelet" && process.argv.length > 0);
}
