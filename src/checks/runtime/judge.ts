/**
 * The runtime's verdict, pure: what gather.ts saw over CRI, in the socket's
 * directory, in systemd and the CNI files in; findings (each with the
 * runtime's evidence, which metrics.ts reads) out.
 */
import type { CniState } from "../../node/cni.js";
import type { UnitState } from "../../node/systemd.js";
import type { CriCondition, CriFilesystemUsage, CriMethod, CriVersion } from "../../wire/cri.js";
import { GRPC_UNIMPLEMENTED, GrpcError } from "../../wire/grpc.js";
import { ProtoError } from "../../wire/protobuf.js";
import type { Finding } from "../../types.js";
import { REASONS } from "./reasons.js";
import { sh, shellQuote } from "../../text/shell.js";

const RUNTIME_REASONS = REASONS.names;

/** Where runtimes put their CRI socket, probed in this order when kubelet does not say. */
export const DEFAULT_RUNTIME_SOCKETS = [
  "/run/containerd/containerd.sock",
  "/run/crio/crio.sock",
  "/run/cri-dockerd.sock",
  "/run/k3s/containerd/containerd.sock",
];
/**
 * Signs of a node: with any of them (or kubelet's root dir) a missing socket is a stopped runtime,
 * not a host without one. The chart mounts the state dirs, not /usr/bin.
 */
/** Files only a Kubernetes node has (beside kubelet's root dir). */
export const KUBELET_MARKERS = ["/usr/bin/kubelet", "/usr/local/bin/kubelet", "/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/config.yaml"];
/** kubelet's own default for containerRuntimeEndpoint (since 1.24). */
export const KUBELET_DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock";
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";

export interface EndpointChoice {
  /** The endpoint as configured, or the socket path probed. */
  endpoint: string;
  /** Where it came from, for messages: "kubelet flag --container-runtime-endpoint". */
  source: string;
  socketPath?: string;
  problem?: string;
  /** Paths probed when nothing named the endpoint. */
  probed?: string[];
  /** No kubelet, no socket, no runtime binary or state dir: a laptop or a copied config tree, not a node. */
  noRuntime?: boolean;
}
/** One CRI call as made: for the request-duration metric. */
export interface RuntimeRequest {
  method: CriMethod;
  seconds: number;
  /** "OK", a gRPC status name, or the failure kind ("timeout", "refused", "protocol"…). */
  outcome: string;
}

/** Evidence on every runtime finding; the metrics sink reads it. */
export type RuntimeEvidence = {
  kind: "runtime";
  endpoint: string;
  /** True when the runtime answered Status over CRI. */
  up: boolean;
  runtimeName?: string;
  runtimeVersion?: string;
  runtimeApiVersion?: string;
  conditions: Array<{ type: string; status: boolean }>;
  runningContainers?: number;
  requests: RuntimeRequest[];
  imageFs?: { mountpoint: string; usedBytes?: number; inodesUsed?: number };
  /** systemd's view of the runtime's unit, when it was asked. */
  unit?: { name: string } & UnitState;
};

export function isRuntimeEvidence(value: unknown): value is RuntimeEvidence {
  return typeof value === "object" && value !== null && (value as RuntimeEvidence).kind === "runtime" && Array.isArray((value as RuntimeEvidence).requests);
}

/** What the check saw; the input of judgeRuntime. */
export interface RuntimeObservation {
  endpoint: EndpointChoice;
  /** Why the socket cannot be used, before any call: "does not exist", "is a directory, not a socket". */
  socketProblem?: string;
  /** The socket's directory is missing too: the runtime never ran since boot, or the pod does not mount it. */
  socketDirMissing?: string;
  version?: CriVersion;
  conditions?: CriCondition[];
  /** Containers in state RUNNING, from ListContainers. */
  runningContainers?: number;
  imageFs?: CriFilesystemUsage;
  /** The first call that failed, how, and the deadline it had. */
  failure?: { method: CriMethod; error: GrpcError | ProtoError; timeoutMs: number };
  /** ImageFsInfo failing after Status answered is reported on its own. */
  imageFsFailure?: GrpcError | ProtoError;
  requests: RuntimeRequest[];
  cni?: CniState;
  /** containerd's config file when it disables the CRI plugin. */
  criDisabledIn?: string;
  /** The runtime's systemd unit and, when the runtime did not answer, what systemd says about it. */
  unit?: { name: string; state?: UnitState; busError?: string };
  /** The distribution's runtime unit (k3s-agent.service on k3s), when it is not containerd.service. */
  distributionUnit?: string;
  /** containerd's config file on this distribution. */
  containerdConfigPath?: string;
}

/** The runtime's systemd service, guessed from its name and socket when not configured. */
export function runtimeUnitName(obs: Pick<RuntimeObservation, "version" | "endpoint" | "distributionUnit">, configured?: string): string {
  if (configured) return configured;
  // k3s and RKE2 run containerd inside their own unit.
  if (obs.distributionUnit && obs.distributionUnit !== "containerd.service") return obs.distributionUnit;
  const name = `${obs.version?.runtimeName ?? ""} ${obs.endpoint.socketPath ?? ""}`.toLowerCase();
  if (name.includes("k3s")) return "k3s.service";
  if (name.includes("crio") || name.includes("cri-o")) return "crio.service";
  if (name.includes("docker")) return "cri-docker.service";
  return "containerd.service";
}

/** The unit as systemctl takes it, for remedies. */
function runtimeUnit(obs: RuntimeObservation): string {
  return (obs.unit?.name ?? runtimeUnitName(obs)).replace(/\.service$/, "");
}

/** What systemd says about the runtime's unit, as a clause for a message; empty when it was not asked. */
function describeUnit(obs: RuntimeObservation): string {
  const unit = obs.unit;
  if (!unit) return "";
  const s = unit.state;
  if (!s) return unit.busError ? `; systemd could not be asked about ${unit.name} (${unit.busError})` : "";
  if (!s.loaded) return `; systemd has no ${unit.name} loaded`;
  const parts = [`${unit.name} is ${s.activeState}${s.subState ? ` (${s.subState})` : ""}`];
  if (s.result && s.result !== "success") parts.push(`last result ${s.result}${s.execMainStatus ? `, exit status ${s.execMainStatus}` : ""}`);
  if (s.nRestarts) parts.push(`restarted ${s.nRestarts} times by systemd`);
  if (s.unitFileState && s.unitFileState !== "enabled") parts.push(`${s.unitFileState} at boot`);
  return `; systemd: ${parts.join(", ")}`;
}

/** The first step of a remedy when systemd will not start the unit at all. */
function unitFix(obs: RuntimeObservation): string {
  const s = obs.unit?.state;
  const unit = runtimeUnit(obs);
  if (s?.loadState === "masked" || s?.unitFileState?.startsWith("masked"))
    return `\`${sh`systemctl unmask ${unit} && systemctl enable --now ${unit}`}\` (the unit is masked), then `;
  if (s?.unitFileState === "disabled" && s.activeState !== "active") return `\`${sh`systemctl enable --now ${unit}`}\` (the unit is disabled), then `;
  return "";
}

function runtimeLabel(obs: RuntimeObservation): string {
  const v = obs.version;
  if (!v?.runtimeName) return `the runtime at ${obs.endpoint.socketPath ?? obs.endpoint.endpoint}`;
  return `${v.runtimeName} ${v.runtimeVersion}`.trim() + ` at ${obs.endpoint.socketPath ?? obs.endpoint.endpoint}`;
}

function describeCondition(c: CriCondition | undefined, type: string): string {
  if (!c) return `reports no ${type} condition`;
  const why = [c.reason, c.message].filter(Boolean).join(": ");
  return `reports ${type}=false${why ? ` (${why})` : ""}`;
}

/** The CNI part of a network remedy: what is wrong with the files, or that they look fine. */
export function cniDiagnosis(cni: CniState | undefined, nodeName?: string): string {
  const addOn = `Check the network add-on's pod on this node (\`kubectl -n kube-system get pods -o wide --field-selector ${nodeName === undefined ? "spec.nodeName=<node>" : shellQuote(`spec.nodeName=${nodeName}`)}\`) and its logs`;
  if (!cni) return `${addOn}.`;
  if (cni.confDirProblem) {
    return `The CNI config directory ${cni.confDir} ${cni.confDirProblem}: no network add-on has written its configuration on this node. ${addOn}; it writes a file into ${cni.confDir} when it starts.`;
  }
  if (cni.files.length === 0) {
    return `The CNI config directory ${cni.confDir} holds no .conf, .conflist or .json file: no network add-on has written its configuration on this node. ${addOn}; it writes a file into ${cni.confDir} when it starts.`;
  }
  const broken = cni.files.filter((f) => f.problem);
  if (broken.length > 0) {
    const list = broken.map((f) => `${f.path} ${f.problem}`).join("; ");
    return `${list}. The runtime loads the CNI config files in name order and stops at a broken one: fix or remove ${broken.map((f) => f.path).join(", ")}${cni.active ? "" : ` (no valid file remains in ${cni.confDir})`}.`;
  }
  if (cni.missingPlugins.length > 0) {
    const types = cni.missingPlugins.map((m) => m.type);
    return `${cni.active?.path ?? cni.confDir} uses the plugin${types.length > 1 ? "s" : ""} ${types.join(", ")}, but ${types.length > 1 ? "they are" : "it is"} not in ${cni.binDirs.join(" or ")} (an executable named after the plugin type): reinstall the network add-on or the CNI plugins package (${cni.binDirs.map((d) => `${d}/${types[0]}`).join(", ")}).`;
  }
  return `The CNI configuration looks complete (${cni.active?.path ?? cni.confDir}, plugins ${cni.active?.pluginTypes.join(", ") ?? "none"} present in ${cni.binDirs.join(" or ")}); ${addOn}.`;
}

function failureFinding(obs: RuntimeObservation, base: Omit<Finding, "severity" | "reason" | "message">): Finding | undefined {
  const failure = obs.failure;
  if (!failure) return undefined;
  const unit = runtimeUnit(obs);
  const socket = obs.endpoint.socketPath ?? obs.endpoint.endpoint;
  const logs = `\`${sh`systemctl status ${unit}`}\`, \`${sh`journalctl -u ${unit} -n 100`}\``;
  const { error, method, timeoutMs } = failure;
  if (error instanceof ProtoError) {
    return {
      ...base,
      severity: "unknown",
      reason: RUNTIME_REASONS.RuntimeReplyInvalid,
      message: `${runtimeLabel(obs)} answered CRI ${method} with a reply node-doctor cannot decode: ${error.message}.`,
      remedy: `Check that ${socket} is the runtime's CRI socket (${obs.endpoint.source}); if it is, report the runtime and its version with this message.`,
    };
  }
  switch (error.kind) {
    case "missing":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeSocketMissing,
        message: `The container runtime socket ${socket} (${obs.endpoint.source}) disappeared while node-doctor called ${method}${describeUnit(obs)}.`,
        remedy: `${unitFix(obs)}The runtime is probably restarting or stopped: ${logs}; \`${sh`systemctl restart ${unit}`}\`.`,
      };
    case "refused":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeNotListening,
        message: `Nothing listens on the container runtime socket ${socket} (${obs.endpoint.source}): ${error.message.replace(`${socket}: `, "")}; the runtime is not running${describeUnit(obs)}.`,
        remedy: `${unitFix(obs)}Start the runtime and find why it stopped: ${logs}; \`${sh`systemctl restart ${unit}`}\`.`,
      };
    case "denied":
      return {
        ...base,
        severity: "unknown",
        reason: RUNTIME_REASONS.RuntimeSocketDenied,
        message: `node-doctor may not connect to the container runtime socket ${socket}: permission denied.`,
        remedy:
          "Run node-doctor as root (the chart does) with the socket's directory mounted from the host (the chart mounts /run; with hostRootFsMount.enabled=false, hostPaths.runtimeSocket).",
      };
    case "timeout":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeUnresponsive,
        message: `The container runtime at ${socket} accepted the connection but did not answer CRI ${method} within ${Math.round(timeoutMs)} ms; kubelet's calls hang the same way (${method === "ListContainers" ? "its PLEG relists with this call: PLEG is not healthy" : "PLEG not healthy"}, pods stuck)${describeUnit(obs)}.`,
        remedy: `The runtime is hung: ${logs}; dump its goroutines with \`kill -USR1 $(${sh`pidof ${unit}`})\` (written to its journal), then \`${sh`systemctl restart ${unit}`}\`.`,
      };
    case "protocol":
    case "closed":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeEndpointNotCri,
        message: `${socket} (${obs.endpoint.source}) does not speak CRI over gRPC: ${error.message.replace(`${socket}: `, "")}.`,
        remedy: `Point kubelet at the runtime's CRI socket (\`--container-runtime-endpoint\` or containerRuntimeEndpoint, e.g. ${KUBELET_DEFAULT_ENDPOINT}) and check that ${unit} is the process listening there (\`${sh`ss -xlp | grep -F ${socket}`}\`).`,
      };
    case "status":
      if (error.code === GRPC_UNIMPLEMENTED) {
        return {
          ...base,
          severity: "critical",
          reason: RUNTIME_REASONS.RuntimeCriUnsupported,
          message: obs.criDisabledIn
            ? `${runtimeLabel(obs)} does not serve CRI (${method} is UNIMPLEMENTED): ${obs.criDisabledIn} lists the CRI plugin in disabled_plugins.`
            : `${runtimeLabel(obs)} does not implement the CRI runtime.v1 API (${method} is UNIMPLEMENTED): its CRI plugin is disabled or the runtime is too old for kubelet.`,
          remedy:
            unit === "containerd"
              ? `Enable the CRI plugin: remove "cri" from disabled_plugins in ${obs.criDisabledIn ?? obs.containerdConfigPath ?? CONTAINERD_CONFIG} (Docker's packages disable it), or regenerate it with \`${sh`containerd config default > ${obs.containerdConfigPath ?? CONTAINERD_CONFIG}`}\`; containerd must be >= 1.6. Then \`systemctl restart containerd\`.`
              : `Upgrade ${unit} to a release that serves CRI runtime.v1 (kubelet >= 1.26 requires it), then \`${sh`systemctl restart ${unit}`}\`.`,
        };
      }
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeRequestFailed,
        message: `${runtimeLabel(obs)} failed CRI ${method}: ${error.message.replace(`${socket}: `, "")}.`,
        remedy: `See why in the runtime's log: ${logs}.`,
      };
    case "aborted":
      return undefined; // the check's own timeout or shutdown: the engine reports it
  }
}

export interface JudgeOptions {
  nodeName?: string;
}

/** Judges what the check saw. Pure. */
export function judgeRuntime(obs: RuntimeObservation, options: JudgeOptions = {}, checkName = "runtime"): Finding[] {
  const socket = obs.endpoint.socketPath ?? obs.endpoint.endpoint;
  const evidence: RuntimeEvidence = {
    kind: "runtime",
    endpoint: obs.endpoint.endpoint,
    up: obs.conditions !== undefined,
    ...(obs.version
      ? { runtimeName: obs.version.runtimeName, runtimeVersion: obs.version.runtimeVersion, runtimeApiVersion: obs.version.runtimeApiVersion }
      : {}),
    conditions: (obs.conditions ?? []).map((c) => ({ type: c.type, status: c.status })),
    ...(obs.runningContainers !== undefined ? { runningContainers: obs.runningContainers } : {}),
    requests: obs.requests,
    ...(obs.unit?.state ? { unit: { name: obs.unit.name, ...obs.unit.state } } : {}),
    ...(obs.imageFs
      ? {
          imageFs: {
            mountpoint: obs.imageFs.mountpoint,
            ...(obs.imageFs.usedBytes !== undefined ? { usedBytes: obs.imageFs.usedBytes } : {}),
            ...(obs.imageFs.inodesUsed !== undefined ? { inodesUsed: obs.imageFs.inodesUsed } : {}),
          },
        }
      : {}),
  };
  const base = { check: checkName, condition: "ContainerRuntimeUnhealthy" as const, evidence };
  const unit = runtimeUnit(obs);

  if (obs.endpoint.problem) {
    return [
      {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeEndpointInvalid,
        message: `The container runtime endpoint from ${obs.endpoint.source} is unusable: ${obs.endpoint.problem}.`,
        remedy: `Set it to the runtime's unix socket, e.g. \`--container-runtime-endpoint=${KUBELET_DEFAULT_ENDPOINT}\` (or containerRuntimeEndpoint in kubelet's config), then \`systemctl restart kubelet\`.`,
      },
    ];
  }
  if (obs.socketProblem && obs.endpoint.noRuntime) {
    return [
      {
        ...base,
        severity: "ok",
        reason: RUNTIME_REASONS.NoContainerRuntime,
        message: `This host runs no container runtime: no kubelet process names one, none of ${DEFAULT_RUNTIME_SOCKETS.join(", ")} exists, and nothing of kubelet's is here (no kubelet root dir, binary or configuration): not a Kubernetes node; runtime checks are skipped.`,
      },
    ];
  }
  if (obs.socketProblem) {
    const probed = obs.endpoint.probed ? ` (none of ${obs.endpoint.probed.join(", ")} exists)` : "";
    return [
      {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeSocketMissing,
        message: `The container runtime socket ${socket} from ${obs.endpoint.source} ${obs.socketProblem}${obs.socketDirMissing ? ` (nor does ${obs.socketDirMissing})` : ""}${probed}; kubelet cannot reach the runtime${describeUnit(obs)}.`,
        remedy:
          `${unitFix(obs)}Start the runtime and find why it stopped: \`${sh`systemctl status ${unit}`}\`, \`${sh`journalctl -u ${unit} -n 100`}\`, \`${sh`systemctl restart ${unit}`}\`. If the runtime listens elsewhere, fix kubelet's \`--container-runtime-endpoint\`.` +
          (obs.socketDirMissing
            ? ` If node-doctor runs in a pod and the runtime does run, the pod does not see ${obs.socketDirMissing}: mount it (the chart mounts the node's / and /run unless hostRootFsMount.enabled is false; then set hostPaths.runtimeSocket.path).`
            : ""),
      },
    ];
  }
  const failed = failureFinding(obs, base);
  if (failed) return [failed];
  // Only an aborted call has no finding: the run was cut short, so it could not look.
  if (obs.failure) throw obs.failure.error;

  const findings: Finding[] = [];
  const conditions = obs.conditions ?? [];
  const runtimeReady = conditions.find((c) => c.type === "RuntimeReady");
  const networkReady = conditions.find((c) => c.type === "NetworkReady");
  // Like kubelet: a missing required condition counts as not ready.
  if (!runtimeReady?.status) {
    findings.push({
      ...base,
      severity: "critical",
      reason: RUNTIME_REASONS.RuntimeNotReady,
      message: `${runtimeLabel(obs)} ${describeCondition(runtimeReady, "RuntimeReady")}; kubelet marks the node NotReady.`,
      remedy: `Read the runtime's log for why: \`${sh`journalctl -u ${unit} -n 100`}\`; then \`${sh`systemctl restart ${unit}`}\`.`,
    });
  }
  if (!networkReady?.status) {
    findings.push({
      ...base,
      severity: "critical",
      reason: RUNTIME_REASONS.RuntimeNetworkNotReady,
      message: `${runtimeLabel(obs)} ${describeCondition(networkReady, "NetworkReady")}; kubelet marks the node NotReady and pods cannot get a network.`,
      remedy: cniDiagnosis(obs.cni, options.nodeName),
      ...(obs.cni ? { evidence: { ...evidence, cni: cniEvidence(obs.cni) } } : {}),
    });
  } else if (obs.cni) {
    // The network is ready, yet the files the runtime would reload are broken: the next reload or restart breaks it.
    const broken = obs.cni.files.filter((f) => f.problem);
    if (broken.length > 0) {
      findings.push({
        ...base,
        severity: "warning",
        reason: RUNTIME_REASONS.CniConfigInvalid,
        message: `${broken.map((f) => `${f.path} ${f.problem}`).join("; ")}; the runtime's network is ready on an earlier load, but the next restart of ${unit} will fail on it.`,
        remedy: cniDiagnosis(obs.cni, options.nodeName),
        evidence: { ...evidence, cni: cniEvidence(obs.cni) },
      });
    }
    if (obs.cni.missingPlugins.length > 0) {
      findings.push({
        ...base,
        severity: "warning",
        reason: RUNTIME_REASONS.CniPluginMissing,
        message: `${obs.cni.missingPlugins[0]?.file} names the CNI plugin${obs.cni.missingPlugins.length > 1 ? "s" : ""} ${obs.cni.missingPlugins.map((m) => m.type).join(", ")}, missing from ${obs.cni.binDirs.join(" and ")}; new pods on this node will fail to get a network.`,
        remedy: cniDiagnosis(obs.cni, options.nodeName),
        evidence: { ...evidence, cni: cniEvidence(obs.cni) },
      });
    }
  }
  if (obs.imageFsFailure) {
    findings.push({
      ...base,
      severity: "warning",
      reason: RUNTIME_REASONS.RuntimeImageFsUnavailable,
      message: `${runtimeLabel(obs)} did not report its image filesystem (CRI ImageFsInfo): ${obs.imageFsFailure.message}; kubelet's image garbage collection depends on it.`,
      remedy: `Read the runtime's log: \`${sh`journalctl -u ${unit} -n 100`}\`; the disk check falls back to the usual runtime directories meanwhile.`,
    });
  }
  if (findings.length === 0) {
    const api = obs.version?.runtimeApiVersion ? ` (CRI ${obs.version.runtimeApiVersion})` : "";
    findings.push({
      ...base,
      severity: "ok",
      reason: RUNTIME_REASONS.RuntimeHealthy,
      message: `${runtimeLabel(obs)}${api} answers and reports RuntimeReady and NetworkReady${obs.runningContainers !== undefined ? `; ${obs.runningContainers} container${obs.runningContainers === 1 ? "" : "s"} running` : ""}.`,
    });
  }
  return findings;
}

function cniEvidence(cni: CniState): Record<string, unknown> {
  return {
    confDir: cni.confDir,
    binDirs: cni.binDirs,
    ...(cni.confDirProblem ? { confDirProblem: cni.confDirProblem } : {}),
    files: cni.files.map((f) => ({ path: f.path, ...(f.problem ? { problem: f.problem } : {}), plugins: f.pluginTypes })),
    missingPlugins: cni.missingPlugins.map((m) => m.type),
  };
}
