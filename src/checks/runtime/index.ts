/**
 * The container runtime, asked over CRI as kubelet asks it: is its socket
 * there, does it answer (Version), does it report RuntimeReady and
 * NetworkReady (Status), and how much does its image filesystem hold
 * (ImageFsInfo, shared with the disk check as ctx.facts.imageFs). When the
 * runtime's network is not ready, the CNI configuration is read to say why.
 *
 * Gather (socket, CRI calls, CNI files) then judge (pure). Every CRI call has
 * a deadline well inside the check's timeout, so a hung runtime is reported
 * as RuntimeUnresponsive rather than as a check that timed out.
 */
import { checkSettings, type CommonCheckSettings } from "../../config/config.js";
import { absolutePath, list, number, optional, string, withDefault } from "../../config/schema.js";
import { cniDirs, readCniState, type CniState } from "../../node/cni.js";
import { readContainerdConfig } from "../../node/containerd-config.js";
import { CriClient, type CriCondition, type CriFilesystemUsage, type CriMethod, type CriVersion } from "../../wire/cri.js";
import { GRPC_STATUS, GRPC_UNIMPLEMENTED, GrpcError } from "../../wire/grpc.js";
import { stringSetting } from "../../node/kubelet/config.js";
import type { KubeletLocator, KubeletSetup } from "../../node/kubelet/locator.js";
import { DEFAULT_SYSTEM_BUS_SOCKET, SystemdBus, type UnitState } from "../../node/systemd.js";
import { ProtoError } from "../../wire/protobuf.js";
import type { Check, CheckContext, Finding, Host } from "../../types.js";
import { REASONS } from "./reasons.js";

export const RUNTIME_REASONS = REASONS.names;

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
const KUBELET_MARKERS = ["/usr/bin/kubelet", "/usr/local/bin/kubelet", "/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/config.yaml"];
/** kubelet's own default for containerRuntimeEndpoint (since 1.24). */
export const KUBELET_DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock";
const CONTAINERD_CONFIG = "/etc/containerd/config.toml";

function endpointSyntax(value: string): string | undefined {
  const parsed = parseEndpoint(value);
  return "problem" in parsed ? parsed.problem : undefined;
}

export const runtimeSettings = checkSettings(
  { intervalSeconds: 30, timeoutSeconds: 10 },
  {
    /** The CRI endpoint ("unix:///run/containerd/containerd.sock"); by default kubelet's. */
    endpoint: optional(string({ check: endpointSyntax })),
    /** Deadline of each CRI call; a runtime slower than this is unresponsive. */
    requestTimeoutSeconds: withDefault(number({ min: 0.1, max: 60 }), 3),
    /** CNI config directory; by default containerd's conf_dir, else /etc/cni/net.d. */
    cniConfDir: optional(string({ check: absolutePath })),
    /** CNI plugin directories; by default containerd's bin_dir, else /opt/cni/bin. */
    cniBinDirs: optional(list(string({ check: absolutePath }), { maxItems: 16 })),
    /** The runtime's systemd unit; by default containerd.service, crio.service, cri-docker.service or k3s.service after the runtime. */
    unit: optional(string({ check: unitName })),
    /** The host's system bus, for the unit's state when the runtime does not answer. */
    dbusSocket: withDefault(string({ check: absolutePath }), DEFAULT_SYSTEM_BUS_SOCKET),
    dbusTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 1),
  },
);

function unitName(value: string): string | undefined {
  return /^[A-Za-z0-9:_.@-]+\.service$/.test(value) ? undefined : `must be a systemd service name like containerd.service, got ${JSON.stringify(value)}`;
}

export type RuntimeSettings = CommonCheckSettings & {
  endpoint?: string | undefined;
  requestTimeoutSeconds: number;
  cniConfDir?: string | undefined;
  cniBinDirs?: string[] | undefined;
  unit?: string | undefined;
  dbusSocket: string;
  dbusTimeoutSeconds: number;
};

/** kubelet's endpoint syntax: "unix:///path", or a bare absolute path (deprecated but accepted). */
export function parseEndpoint(value: string): { socketPath: string } | { problem: string } {
  const trimmed = value.trim();
  if (trimmed.startsWith("/")) return { socketPath: trimmed };
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(trimmed);
  if (!match) return { problem: `${JSON.stringify(value)} is not an endpoint: expected unix:///path/to/socket` };
  const scheme = (match[1] as string).toLowerCase();
  const rest = match[2] as string;
  if (scheme !== "unix") return { problem: `${JSON.stringify(value)} uses ${scheme}://; only unix sockets are supported on Linux nodes` };
  if (!rest.startsWith("/")) return { problem: `${JSON.stringify(value)} has no absolute socket path after unix://` };
  return { socketPath: rest };
}

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

/** Picks the endpoint: our setting, kubelet's flag, kubelet's config, kubelet's default, else the usual sockets. */
export async function chooseEndpoint(host: Host, kubelet: KubeletSetup, override: string | undefined): Promise<EndpointChoice> {
  const from = (endpoint: string, source: string): EndpointChoice => {
    const parsed = parseEndpoint(endpoint);
    return "problem" in parsed ? { endpoint, source, problem: parsed.problem } : { endpoint, source, socketPath: parsed.socketPath };
  };
  if (override) return from(override, "checks.runtime.endpoint");
  const configured = stringSetting(kubelet.flags, kubelet.configFiles, "container-runtime-endpoint", "containerRuntimeEndpoint");
  if (configured?.from === "flag") return from(configured.value, "kubelet flag --container-runtime-endpoint");
  if (configured) return from(configured.value, `containerRuntimeEndpoint in ${configured.path}`);
  // kubelet's own default is containerd's socket; a distribution that runs its own containerd (k3s, RKE2) points it elsewhere.
  if (kubelet.process) {
    const socket = kubelet.distribution.runtimeSocket;
    return from(
      `unix://${socket}`,
      socket === "/run/containerd/containerd.sock" ? "kubelet's default endpoint" : `${kubelet.distribution.name}'s runtime socket`,
    );
  }
  for (const path of DEFAULT_RUNTIME_SOCKETS) {
    if (await host.exists(path)) return { endpoint: path, source: "the usual runtime sockets (no kubelet running)", socketPath: path };
  }
  // A runtime installed on a workstation (Docker pulls in containerd) does not make it a node:
  // only kubelet's own traces do, as for the kubelet check's NotAKubernetesNode.
  let installed = false;
  for (const path of [kubelet.rootDir, ...KUBELET_MARKERS]) if (!installed && (await host.exists(path))) installed = true;
  return {
    endpoint: DEFAULT_RUNTIME_SOCKETS[0] as string,
    source: "the usual runtime sockets (no kubelet running)",
    socketPath: DEFAULT_RUNTIME_SOCKETS[0] as string,
    probed: DEFAULT_RUNTIME_SOCKETS,
    ...(installed ? {} : { noRuntime: true }),
  };
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
    return `\`systemctl unmask ${unit} && systemctl enable --now ${unit}\` (the unit is masked), then `;
  if (s?.unitFileState === "disabled" && s.activeState !== "active") return `\`systemctl enable --now ${unit}\` (the unit is disabled), then `;
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

function nodeLabel(nodeName: string | undefined): string {
  return nodeName ?? "<node>";
}

/** The CNI part of a network remedy: what is wrong with the files, or that they look fine. */
export function cniDiagnosis(cni: CniState | undefined, nodeName?: string): string {
  const addOn = `Check the network add-on's pod on this node (\`kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=${nodeLabel(nodeName)}\`) and its logs`;
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
  const logs = `\`systemctl status ${unit}\`, \`journalctl -u ${unit} -n 100\``;
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
        remedy: `${unitFix(obs)}The runtime is probably restarting or stopped: ${logs}; \`systemctl restart ${unit}\`.`,
      };
    case "refused":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeNotListening,
        message: `Nothing listens on the container runtime socket ${socket} (${obs.endpoint.source}): ${error.message.replace(`${socket}: `, "")}; the runtime is not running${describeUnit(obs)}.`,
        remedy: `${unitFix(obs)}Start the runtime and find why it stopped: ${logs}; \`systemctl restart ${unit}\`.`,
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
        remedy: `The runtime is hung: ${logs}; dump its goroutines with \`kill -USR1 $(pidof ${unit})\` (written to its journal), then \`systemctl restart ${unit}\`.`,
      };
    case "protocol":
    case "closed":
      return {
        ...base,
        severity: "critical",
        reason: RUNTIME_REASONS.RuntimeEndpointNotCri,
        message: `${socket} (${obs.endpoint.source}) does not speak CRI over gRPC: ${error.message.replace(`${socket}: `, "")}.`,
        remedy: `Point kubelet at the runtime's CRI socket (\`--container-runtime-endpoint\` or containerRuntimeEndpoint, e.g. ${KUBELET_DEFAULT_ENDPOINT}) and check that ${unit} is the process listening there (\`ss -xlp | grep ${socket}\`).`,
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
              ? `Enable the CRI plugin: remove "cri" from disabled_plugins in ${obs.criDisabledIn ?? obs.containerdConfigPath ?? CONTAINERD_CONFIG} (Docker's packages disable it), or regenerate it with \`containerd config default > ${obs.containerdConfigPath ?? CONTAINERD_CONFIG}\`; containerd must be >= 1.6. Then \`systemctl restart containerd\`.`
              : `Upgrade ${unit} to a release that serves CRI runtime.v1 (kubelet >= 1.26 requires it), then \`systemctl restart ${unit}\`.`,
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
          `${unitFix(obs)}Start the runtime and find why it stopped: \`systemctl status ${unit}\`, \`journalctl -u ${unit} -n 100\`, \`systemctl restart ${unit}\`. If the runtime listens elsewhere, fix kubelet's \`--container-runtime-endpoint\`.` +
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
      remedy: `Read the runtime's log for why: \`journalctl -u ${unit} -n 100\`; then \`systemctl restart ${unit}\`.`,
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
      remedy: `Read the runtime's log: \`journalctl -u ${unit} -n 100\`; the disk check falls back to the usual runtime directories meanwhile.`,
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

export interface RuntimeCheckDeps {
  kubelet: KubeletLocator;
}

async function socketProblem(host: Host, nodePath: string): Promise<string | undefined> {
  try {
    const st = await host.stat(nodePath);
    if (st.kind !== "socket") return `is a ${st.kind}, not a socket`;
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.startsWith(`${nodePath}: `) ? message.slice(nodePath.length + 2) : message;
  }
}

function outcomeOf(error: unknown): string {
  if (error instanceof GrpcError) return error.kind === "status" ? (GRPC_STATUS[error.code ?? 2] ?? `code_${error.code}`) : error.kind;
  if (error instanceof ProtoError) return "invalid_reply";
  return "error";
}

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

/** Failures a kept connection shows when the runtime restarted since it was opened. */
const STALE_CONNECTION = new Set(["closed", "protocol", "refused", "missing"]);

/**
 * The check's CRI connection, kept between runs: a new HTTP/2 session every
 * run costs the agent more memory churn than the calls themselves.
 */
class RuntimeConnections {
  private current?: { local: string; client: CriClient };

  acquire(local: string): { client: CriClient; reused: boolean } {
    if (this.current?.local === local && this.current.client.usable) return { client: this.current.client, reused: true };
    this.drop();
    const client = new CriClient(local);
    this.current = { local, client };
    return { client, reused: false };
  }

  drop(): void {
    this.current?.client.close();
    delete this.current;
  }
}

async function observe(
  ctx: CheckContext,
  settings: RuntimeSettings,
  timeoutMs: number,
  kubelet: KubeletSetup,
  connections: RuntimeConnections,
  started: number,
): Promise<RuntimeObservation> {
  // Leave the engine's timeout for the engine: from the run's start (finding kubelet included), the calls stop well before it.
  const budgetEnd = started + timeoutMs * 0.8;
  const endpoint = await chooseEndpoint(ctx.host, kubelet, settings.endpoint);
  const obs: RuntimeObservation = { endpoint, requests: [] };
  if (endpoint.problem || !endpoint.socketPath) return obs;

  const containerdPath = kubelet.distribution.containerdConfig;
  obs.containerdConfigPath = containerdPath;
  if (kubelet.distribution.runtimeUnit !== "containerd.service") obs.distributionUnit = kubelet.distribution.runtimeUnit;
  const containerdConfig = await readContainerdConfig(ctx.host, containerdPath, ctx.signal);
  if (containerdConfig.ok && containerdConfig.criDisabled) obs.criDisabledIn = containerdPath;
  const { problem: cniDirsProblem, ...dirs } = cniDirs(containerdConfig, { confDir: settings.cniConfDir, binDirs: settings.cniBinDirs });
  if (cniDirsProblem) ctx.log.debug({ problem: cniDirsProblem }, "containerd's config gives no CNI directories; using the defaults");
  const cniPromise = readCniState(ctx.host, { ...dirs, signal: ctx.signal });
  cniPromise.catch(() => undefined); // awaited below; a rejection before then must not go unhandled

  const problem = await socketProblem(ctx.host, endpoint.socketPath);
  if (problem) {
    obs.socketProblem = problem;
    const dir = endpoint.socketPath.replace(/\/[^/]*$/, "") || "/";
    if (!endpoint.probed && !(await ctx.host.exists(dir))) obs.socketDirMissing = dir;
    connections.drop();
    return obs;
  }
  const local = ctx.host.local(await ctx.host.resolve(endpoint.socketPath));
  if (Buffer.byteLength(local) > MAX_UNIX_PATH_BYTES) {
    // connect() would truncate it and report a missing socket: say what really stops us looking.
    throw new Error(
      `${local} is ${Buffer.byteLength(local)} bytes, longer than a unix socket address allows (${MAX_UNIX_PATH_BYTES}): use a shorter --host-root`,
    );
  }
  let { client, reused } = connections.acquire(local);
  let lastTimeoutMs = 0;
  const call = async <T>(method: CriMethod, fn: (c: CriClient, o: { timeoutMs: number; signal: AbortSignal }) => Promise<T>): Promise<T> => {
    const begin = ctx.clock.monotonic();
    const timeoutMs = Math.max(1, Math.min(settings.requestTimeoutSeconds * 1000, budgetEnd - begin));
    lastTimeoutMs = timeoutMs;
    try {
      const value = await fn(client, { timeoutMs, signal: ctx.signal });
      obs.requests.push({ method, seconds: (ctx.clock.monotonic() - begin) / 1000, outcome: "OK" });
      return value;
    } catch (error) {
      // A kept connection may have gone stale (the runtime restarted): one retry on a new one.
      if (reused && error instanceof GrpcError && STALE_CONNECTION.has(error.kind)) {
        connections.drop();
        ({ client, reused } = connections.acquire(local));
        return call(method, fn);
      }
      obs.requests.push({ method, seconds: (ctx.clock.monotonic() - begin) / 1000, outcome: outcomeOf(error) });
      // A connection that failed or hung is not kept for the next run.
      connections.drop();
      // The local path means nothing to an operator: name the node path.
      if (error instanceof GrpcError) throw new GrpcError(error.kind, error.message.split(local).join(endpoint.socketPath as string), error.code);
      throw error;
    }
  };
  try {
    obs.version = await call("Version", (c, o) => c.version(o));
    obs.conditions = (await call("Status", (c, o) => c.status(o))).conditions;
    obs.runningContainers = await call("ListContainers", (c, o) => c.runningContainers(o));
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!(error instanceof GrpcError || error instanceof ProtoError)) throw error;
    obs.failure = { method: obs.conditions ? "ListContainers" : obs.version ? "Status" : "Version", error, timeoutMs: lastTimeoutMs };
    return obs;
  }
  try {
    const info = await call("ImageFsInfo", (c, o) => c.imageFsInfo(o));
    const first = info.imageFilesystems.find((fs) => fs.mountpoint !== "");
    if (first) obs.imageFs = first;
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!(error instanceof GrpcError || error instanceof ProtoError)) throw error;
    obs.imageFsFailure = error;
  }
  const networkReady = obs.conditions.find((c) => c.type === "NetworkReady")?.status === true;
  try {
    // A CNI directory on a stuck filesystem must not cost the runtime finding: wait only what the budget leaves.
    const left = Math.max(0, budgetEnd - ctx.clock.monotonic());
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), left);
    });
    const cni = await Promise.race([cniPromise, late]).finally(() => clearTimeout(timer));
    if (cni) obs.cni = cni;
    else ctx.log.warn({ confDir: dirs.confDir }, "the CNI configuration could not be read within the check's time budget");
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (!networkReady) ctx.log.warn({ err: String(error) }, "could not read the CNI configuration");
  }
  return obs;
}

export function createRuntimeCheck(settings: RuntimeSettings, deps: RuntimeCheckDeps): Check {
  const timeoutMs = settings.timeoutSeconds * 1000;
  const connections = new RuntimeConnections();
  let bus: SystemdBus | undefined;
  /** Asks systemd about the unit only when the runtime did not answer: that is when its state explains something. */
  const askSystemd = async (ctx: CheckContext, obs: RuntimeObservation, startedMs: number): Promise<void> => {
    const down = (obs.socketProblem !== undefined && !obs.endpoint.noRuntime) || (obs.failure !== undefined && obs.failure.error instanceof GrpcError);
    if (!down) return;
    const name = runtimeUnitName(obs, settings.unit);
    obs.unit = { name };
    bus ??= new SystemdBus(ctx.host, settings.dbusSocket, settings.dbusTimeoutSeconds * 1000);
    if (!(await bus.available())) return;
    // Whatever time the CRI calls left: a hung bus must not turn a runtime finding into a timed-out check.
    const left = startedMs + timeoutMs * 0.95 - ctx.clock.monotonic();
    if (left < 50) {
      obs.unit.busError = "no time left within the check's timeout";
      return;
    }
    try {
      obs.unit.state = await bus.unitState(name, AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.floor(left))]));
    } catch (error) {
      ctx.signal.throwIfAborted();
      obs.unit.busError = error instanceof Error ? error.message : String(error);
      ctx.log.debug({ err: obs.unit.busError }, "systemd unreachable over D-Bus; the runtime's unit state is unknown");
    }
  };
  return {
    name: "runtime",
    conditions: ["ContainerRuntimeUnhealthy"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs,
    // Whether the runtime answers decides how the kubelet-config check words a config it cannot read; the disk check reads the image filesystem.
    writesFacts: true,
    async run(ctx) {
      const startedMs = ctx.clock.monotonic();
      let obs: RuntimeObservation;
      try {
        const kubelet = await deps.kubelet.locate(ctx.signal);
        obs = await observe(ctx, settings, timeoutMs, kubelet, connections, startedMs);
      } catch (error) {
        delete ctx.facts.runtime; // could not look: nobody knows whether it answers
        throw error;
      }
      // Single writer of this fact.
      ctx.facts.runtime = { endpoint: obs.endpoint.endpoint, answers: obs.conditions !== undefined, measuredAtMonotonicMs: ctx.clock.monotonic() };
      await askSystemd(ctx, obs, startedMs);
      if (obs.imageFs) {
        // Single writer of this fact; the disk check judges the filesystem it names.
        ctx.facts.imageFs = {
          mountpoint: obs.imageFs.mountpoint,
          usedBytes: obs.imageFs.usedBytes ?? 0,
          ...(obs.imageFs.inodesUsed !== undefined ? { inodesUsed: obs.imageFs.inodesUsed } : {}),
          measuredAtMonotonicMs: ctx.clock.monotonic(),
        };
      }
      return judgeRuntime(obs, ctx.cluster ? { nodeName: ctx.cluster.nodeName } : {});
    },
    async close() {
      connections.drop();
      bus?.close();
    },
  };
}
