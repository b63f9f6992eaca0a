/**
 * KubeletConfigInvalid: kubelet's flags, its KubeletConfiguration and its
 * kubeconfig, validated the way kubelet validates them at start, plus the
 * node facts they must agree with (swap, containerd's cgroup driver). The
 * rules live one a file in rules/, run together by judge.ts; this file gathers what they read.
 *
 * With no kubelet process the check says nothing: the kubelet check reports
 * that once (KubeletNotRunning or NotAKubernetesNode).
 *
 * kubelet's version decides several rules. The binary's version is not
 * readable without running it, so it comes from, in order: the
 * `kubeletVersion` setting (an operator's override), the host's package
 * database (the binary kubelet runs at its next start, even after an upgrade
 * that has not restarted it yet), and the Node's status.nodeInfo.kubeletVersion
 * (what the running kubelet reported; absent when it never registered, as in
 * the unregistered node, docs/incidents.md). The Node is read at most once per kubelet process.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, optional, string, withDefault, type Infer } from "../../config/schema.js";
import { HostPathError } from "../../node/host.js";
import { readContainerdConfig, type ContainerdConfig } from "../../node/containerd-config.js";
import { readKubeletConfigFiles } from "../../node/kubelet/config.js";
import { kubeletArgs, parseKubeletFlags, type KubeletFlags } from "../../node/kubelet/flags.js";
import type { KubeletLocator, KubeletSetup } from "../../node/kubelet/locator.js";
import { flagSources, readUnitCommand, type UnitCommand } from "../../node/unit-file.js";
import type { Check, CheckContext, Finding, Host } from "../../types.js";
import { judgeKubeletConfig } from "./judge.js";
import { KUBELET_CONFIG_REASONS, type FileFact, type KubeletConfigFacts } from "./rules/common.js";
import { parseProcSwaps } from "./rules/swap.js";
import { atLeast, parseKubeVersion, type VersionFact } from "../../node/kubelet/version.js";
import { defineCheck } from "../define.js";
import { REASONS } from "./reasons.js";

export { KUBELET_CONFIG_REASONS };

/** kubelet's default --kubeconfig before 1.10 (later there is none: no flag means standalone mode). */
const LEGACY_DEFAULT_KUBECONFIG = "/var/lib/kubelet/kubeconfig";
/** How long to wait before asking the API server again after it could not say. */
const NODE_RETRY_MS = 5 * 60 * 1000;

function versionCheck(value: string): string | undefined {
  return parseKubeVersion(value) ? undefined : `expected a Kubernetes version such as "1.30.4", got ${JSON.stringify(value)}`;
}

export const kubeletConfigSettings = checkSettings(
  { intervalSeconds: 60, timeoutSeconds: 10 },
  {
    /** kubelet's version when neither the package database nor the Node says it (kubelet installed from a tarball). */
    kubeletVersion: optional(string({ check: versionCheck })),
    /** containerd's configuration, compared with kubelet's cgroup driver; by default the distribution's (/etc/containerd/config.toml, k3s's under /var/lib/rancher). */
    containerdConfigPath: optional(string({ check: absolutePath })),
    /** CRI-O's configuration; drop-ins are read from "<path>.d". */
    crioConfigPath: withDefault(string({ check: absolutePath }), "/etc/crio/crio.conf"),
  },
);

export type KubeletConfigSettings = Infer<typeof kubeletConfigSettings>;

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

export interface KubeletConfigCheckDeps {
  kubelet: KubeletLocator;
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

export function createKubeletConfigCheck(settings: KubeletConfigSettings, deps: KubeletConfigCheckDeps): Check {
  const configured = settings.kubeletVersion ? parseKubeVersion(settings.kubeletVersion) : undefined;
  let nodeVersion: { pid: number; fact?: VersionFact; askedAtMs: number; answered: boolean } | undefined;

  async function versionOf(ctx: CheckContext, setup: KubeletSetup, pid: number): Promise<VersionFact | undefined> {
    if (configured) return { version: configured, source: "the checks.kubelet-config.kubeletVersion setting" };
    const local = await deps.kubelet.localVersion(setup, ctx.signal);
    if (local) return local;
    if (!ctx.cluster) return undefined;
    const now = ctx.clock.monotonic();
    const fresh = nodeVersion && nodeVersion.pid === pid && (nodeVersion.answered || now - nodeVersion.askedAtMs < NODE_RETRY_MS);
    if (!fresh) {
      nodeVersion = { pid, askedAtMs: now, answered: false };
      try {
        const { node } = await ctx.cluster.getNode(ctx.signal);
        const text = node?.status?.nodeInfo?.kubeletVersion;
        const version = text ? parseKubeVersion(text) : undefined;
        // A missing Node (never registered) is worth asking again later.
        nodeVersion.answered = version !== undefined;
        if (version) nodeVersion.fact = { version, source: `the Node's status.nodeInfo.kubeletVersion ${text}` };
      } catch (error) {
        ctx.signal.throwIfAborted();
        ctx.log.debug({ err: String(error) }, "could not read the Node for kubelet's version");
      }
    }
    return nodeVersion?.fact;
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
  async function unitFacts(ctx: CheckContext, unit: UnitCommand, pid: number): Promise<KubeletConfigFacts | undefined> {
    const program = unit.argv[0]?.split("/").at(-1);
    if (program !== "kubelet" && program !== "hyperkube") return undefined; // a wrapper script: its flags are not kubelet's
    const flags: KubeletFlags = parseKubeletFlags(kubeletArgs(unit.argv));
    const facts: KubeletConfigFacts = {
      pid,
      unitFiles: [...unit.unitFiles, ...unit.environmentFiles],
      cmdlineEmpty: false,
      flags,
      configFiles: await readKubeletConfigFiles(ctx.host, flags, { signal: ctx.signal, load: (path) => deps.kubelet.load(path, ctx.signal) }),
    };
    if (unit.unseen.length > 0) facts.unitUnseen = unit.unseen;
    facts.flagFiles = flagSources(unit.sources, flags.values.keys());
    return facts;
  }

  /** What kubelet runs with now, and what its unit would start it with next when that differs. */
  async function gather(ctx: CheckContext): Promise<{ running: KubeletConfigFacts; pending?: KubeletConfigFacts } | undefined> {
    const { host, signal } = ctx;
    const setup = await deps.kubelet.locate(signal);
    const process = setup.process;
    // The unit names the file each flag is set in; without a running kubelet it is the only source of flags.
    const unit = await readUnitCommand(host, setup.distribution.kubeletUnit, signal);
    // The unit's binary is a kubelet to trust, and where its version is read.
    if (unit?.argv[0]?.startsWith("/") && /\/(kubelet|hyperkube)$/.test(unit.argv[0])) deps.kubelet.noteUnit({ binary: unit.argv[0] });
    const fromUnit = unit ? await unitFacts(ctx, unit, process?.pid ?? 0) : undefined;
    if (!process && !fromUnit) return undefined;

    const version = await versionOf(ctx, setup, process?.pid ?? 0);
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

  return {
    name: "kubelet-config",
    conditions: ["KubeletConfigInvalid"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx): Promise<Finding[]> {
      const gathered = await gather(ctx);
      if (!gathered) return [];
      const findings = judgeKubeletConfig(gathered.running);
      if (!gathered.pending) return findings;
      // The unit was edited since kubelet started: what its next start gets may fail where the running one passed.
      const known = new Set(findings.map((f) => f.reason));
      const pending = judgeKubeletConfig(gathered.pending).filter((f) => f.severity !== "ok" && !known.has(f.reason));
      if (pending.length === 0) return findings;
      return [...findings.filter((f) => f.reason !== KUBELET_CONFIG_REASONS.KubeletConfigOk), ...pending];
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const kubeletConfigCheck = defineCheck({ settings: kubeletConfigSettings, create: createKubeletConfigCheck, reasons: REASONS });
