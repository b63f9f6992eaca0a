/**
 * What the kubelet-config check reads, I/O only: the command line kubelet
 * runs with and the one its systemd unit would start it with (through the one
 * kubelet reader), its kubeconfigs, /proc/swaps, containerd's or CRI-O's
 * config, and kubelet's version (package, binary, else the Node).
 *
 * What the check keeps between runs is `KubeletConfigMemory`: the version the
 * Node gave for the kubelet process seen, so the API is asked once per process.
 */
import { HostPathError } from "../../node/host.js";
import { readContainerdConfig, type ContainerdConfig } from "../../node/containerd-config.js";
import { readKubeletConfigFiles } from "../../node/kubelet/config.js";
import { kubeletArgs, parseKubeletFlags, type KubeletFlags } from "../../node/kubelet/flags.js";
import type { KubeletLocator, KubeletSetup } from "../../node/kubelet/locator.js";
import { flagSources, readUnitCommand, type UnitCommand } from "../../node/unit-file.js";
import { atLeast, parseKubeVersion, type KubeVersion, type VersionFact } from "../../node/kubelet/version.js";
import type { CheckContext, Host } from "../../types.js";
import type { KubeletConfigSettings } from "./index.js";
import type { FileFact, KubeletConfigFacts } from "./rules/common.js";
import { parseProcSwaps } from "./rules/swap.js";

/** kubelet's default --kubeconfig before 1.10 (later there is none: no flag means standalone mode). */
const LEGACY_DEFAULT_KUBECONFIG = "/var/lib/kubelet/kubeconfig";
/** How long to wait before asking the API server again after it could not say. */
const NODE_RETRY_MS = 5 * 60 * 1000;

/** The same executable: equal absolute paths, or the same name when either is relative. */
function sameProgram(a: string, b: string): boolean {
  if (a.startsWith("/") && b.startsWith("/")) return a === b;
  return a.split("/").at(-1) === b.split("/").at(-1);
}

/** Same flags with the same last values, whatever their order. */
function sameFlags(a: KubeletFlags, b: KubeletFlags): boolean {
  if (a.values.size !== b.values.size) return false;
  for (const [name, value] of a.values) if (b.values.get(name) !== value) return false;
  return true;
}

async function readFileFact(host: Host, path: string, signal: AbortSignal): Promise<FileFact> {
  try {
    return { path, state: "ok", text: await host.readText(path, { maxBytes: 1024 * 1024, signal }) };
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof HostPathError && error.code === "ENOENT") {
      const dir = path.slice(0, path.lastIndexOf("/")) || "/";
      return (await host.exists(dir)) ? { path, state: "missing" } : { path, state: "missing", unseen: true };
    }
    return { path, state: "unreadable", problem: error instanceof HostPathError ? error.problem : String(error) };
  }
}

/**
 * containerd's config with its imports, when its directory is visible. A missing file in a visible
 * /etc/containerd means containerd's defaults; an invisible directory (not mounted into the pod) means nothing can be said.
 */
async function visibleContainerd(host: Host, path: string, signal: AbortSignal): Promise<{ containerd?: ContainerdConfig }> {
  if (!(await host.exists(path.slice(0, path.lastIndexOf("/")) || "/"))) return {};
  return { containerd: await readContainerdConfig(host, path, signal) };
}

async function visibleCrioConfig(host: Host, path: string, signal: AbortSignal): Promise<{ crioConfig?: FileFact[] }> {
  if (!(await host.exists(path.slice(0, path.lastIndexOf("/")) || "/"))) return {};
  return { crioConfig: await readCrioConfig(host, path, signal) };
}

/** crio.conf, then its drop-ins in name order (CRI-O applies them in that order); files absent are left out. */
async function readCrioConfig(host: Host, path: string, signal: AbortSignal): Promise<FileFact[]> {
  const files: FileFact[] = [];
  const main = await readFileFact(host, path, signal);
  if (main.state !== "missing") files.push(main);
  let entries: string[] = [];
  try {
    entries = await host.list(`${path}.d`);
  } catch {
    // no drop-in directory
  }
  for (const entry of entries.filter((e) => e.endsWith(".conf"))) files.push(await readFileFact(host, `${path}.d/${entry}`, signal));
  return files;
}

/** Everything the kubelet-config check carries from one run to the next. */
export interface KubeletConfigMemory {
  /** checks.kubelet-config.kubeletVersion, parsed once. */
  configuredVersion: KubeVersion | undefined;
  /** The Node's word on kubelet's version, for the kubelet process it was asked about. */
  nodeVersion: { pid: number; fact?: VersionFact; askedAtMs: number; answered: boolean } | undefined;
}

export function newKubeletConfigMemory(settings: Pick<KubeletConfigSettings, "kubeletVersion">): KubeletConfigMemory {
  return { configuredVersion: settings.kubeletVersion ? parseKubeVersion(settings.kubeletVersion) : undefined, nodeVersion: undefined };
}

async function versionOf(
  ctx: CheckContext,
  kubelet: KubeletLocator,
  memory: KubeletConfigMemory,
  setup: KubeletSetup,
  pid: number,
): Promise<VersionFact | undefined> {
  const configured = memory.configuredVersion;
  if (configured) return { version: configured, source: "the checks.kubelet-config.kubeletVersion setting" };
  const local = await kubelet.localVersion(setup, ctx.signal);
  if (local) return local;
  if (!ctx.cluster) return undefined;
  const now = ctx.clock.monotonic();
  const previous = memory.nodeVersion;
  const fresh = previous && previous.pid === pid && (previous.answered || now - previous.askedAtMs < NODE_RETRY_MS);
  if (!fresh) {
    const asked: NonNullable<KubeletConfigMemory["nodeVersion"]> = { pid, askedAtMs: now, answered: false };
    memory.nodeVersion = asked;
    try {
      const { node } = await ctx.cluster.getNode(ctx.signal);
      const text = node?.status?.nodeInfo?.kubeletVersion;
      const version = text ? parseKubeVersion(text) : undefined;
      // A missing Node (never registered) is worth asking again later.
      asked.answered = version !== undefined;
      if (version) asked.fact = { version, source: `the Node's status.nodeInfo.kubeletVersion ${text}` };
    } catch (error) {
      ctx.signal.throwIfAborted();
      ctx.log.debug({ err: String(error) }, "could not read the Node for kubelet's version");
    }
  }
  return memory.nodeVersion?.fact;
}

/** Reads the files one command line points at (kubeconfigs) and adds the node facts shared by every invocation. */
async function complete(
  ctx: CheckContext,
  facts: KubeletConfigFacts,
  shared: Pick<KubeletConfigFacts, "swaps" | "containerd" | "runtimeAnswers" | "crioConfig" | "version" | "distribution">,
): Promise<KubeletConfigFacts> {
  const { host, signal } = ctx;
  const flags = facts.flags;
  Object.assign(facts, shared);
  if (ctx.cluster) facts.nodeName = ctx.cluster.nodeName;
  const version = facts.version?.version;
  const legacyDefault = version && !atLeast(version, 1, 10) ? LEGACY_DEFAULT_KUBECONFIG : undefined;
  const kubeconfigFlag = flags.values.get("kubeconfig");
  if (kubeconfigFlag) facts.kubeconfig = await readFileFact(host, kubeconfigFlag, signal);
  else if (legacyDefault) {
    // Before 1.10 kubelet looked for this file unasked; absent, it simply ran without an API server.
    const file = await readFileFact(host, legacyDefault, signal);
    if (file.state !== "missing") facts.kubeconfig = file;
  }
  const bootstrapPath = flags.values.get("bootstrap-kubeconfig") || flags.values.get("experimental-bootstrap-kubeconfig");
  if (bootstrapPath) facts.bootstrapKubeconfig = await readFileFact(host, bootstrapPath, signal);
  return facts;
}

/** The facts of the kubelet command line systemd's unit would start, when the unit runs kubelet itself. */
async function unitFacts(ctx: CheckContext, kubelet: KubeletLocator, unit: UnitCommand, pid: number): Promise<KubeletConfigFacts | undefined> {
  const program = unit.argv[0]?.split("/").at(-1);
  if (program !== "kubelet" && program !== "hyperkube") return undefined; // a wrapper script: its flags are not kubelet's
  const flags: KubeletFlags = parseKubeletFlags(kubeletArgs(unit.argv));
  const facts: KubeletConfigFacts = {
    pid,
    unitFiles: [...unit.unitFiles, ...unit.environmentFiles],
    cmdlineEmpty: false,
    flags,
    configFiles: await readKubeletConfigFiles(ctx.host, flags, { signal: ctx.signal, load: (path) => kubelet.load(path, ctx.signal) }),
  };
  if (unit.unseen.length > 0) facts.unitUnseen = unit.unseen;
  facts.flagFiles = flagSources(unit.sources, flags.values.keys());
  return facts;
}

/** What kubelet runs with now, and what its unit would start it with next when that differs; undefined when this host runs no kubelet. */
export async function gatherKubeletConfig(
  ctx: CheckContext,
  settings: KubeletConfigSettings,
  kubelet: KubeletLocator,
  memory: KubeletConfigMemory,
): Promise<{ running: KubeletConfigFacts; pending?: KubeletConfigFacts } | undefined> {
  const { host, signal } = ctx;
  const setup = await kubelet.locate(signal);
  const process = setup.process;
  // The unit names the file each flag is set in; without a running kubelet it is the only source of flags.
  const unit = await readUnitCommand(host, setup.distribution.kubeletUnit, signal);
  // The unit's binary is a kubelet to trust, and where its version is read.
  if (unit?.argv[0]?.startsWith("/") && /\/(kubelet|hyperkube)$/.test(unit.argv[0])) kubelet.noteUnit({ binary: unit.argv[0] });
  const fromUnit = unit ? await unitFacts(ctx, kubelet, unit, process?.pid ?? 0) : undefined;
  if (!process && !fromUnit) return undefined;

  const version = await versionOf(ctx, kubelet, memory, setup, process?.pid ?? 0);
  const swaps = await readFileFact(host, "/proc/swaps", signal);
  const shared: Pick<KubeletConfigFacts, "swaps" | "containerd" | "runtimeAnswers" | "crioConfig" | "version" | "distribution"> = {
    swaps:
      swaps.state === "ok"
        ? { ok: true, active: parseProcSwaps(swaps.text) }
        : { ok: false, problem: swaps.state === "missing" ? "/proc/swaps does not exist" : `/proc/swaps: ${swaps.problem}` },
    ...(await visibleContainerd(host, settings.containerdConfigPath ?? setup.distribution.containerdConfig, signal)),
    distribution: setup.distribution,
    // The runtime check's latest word (it runs first in a round): a runtime that answers CRI accepted its config.
    ...(ctx.facts.runtime ? { runtimeAnswers: ctx.facts.runtime.answers } : {}),
    ...(await visibleCrioConfig(host, settings.crioConfigPath, signal)),
    ...(version ? { version } : {}),
  };

  if (!process) return { running: await complete(ctx, fromUnit as KubeletConfigFacts, shared) };
  const cmdlineEmpty = process.argv.every((arg) => arg === "");
  // The locator read what kubelet reads: --config and --config-dir (kubeadm's layout only when the command line is unreadable).
  const running: KubeletConfigFacts = { pid: process.pid, cmdlineEmpty, flags: setup.flags, configFiles: setup.configFiles };
  // Only a unit that runs this very binary started this kubelet (RKE2, k0s and others run their own).
  const sameUnit = fromUnit && unit && sameProgram(process.argv[0] ?? "", unit.argv[0] ?? "") ? fromUnit : undefined;
  if (sameUnit?.flagFiles) running.flagFiles = Object.fromEntries(Object.entries(sameUnit.flagFiles).filter(([flag]) => setup.flags.values.has(flag)));
  await complete(ctx, running, shared);
  // A unit whose environment files are not all visible may lack flags: comparing it would invent differences.
  if (!sameUnit || !unit || unit.unseen.length > 0 || cmdlineEmpty || sameFlags(running.flags, sameUnit.flags)) return { running };
  return { running, pending: await complete(ctx, sameUnit, shared) };
}
