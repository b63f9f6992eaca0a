/**
 * The vocabulary shared by checks, the engine and the sinks.
 *
 * Everything else imports this file; it imports nothing from the project (only
 * erased Kubernetes API types), so the contract cannot drift with an
 * implementation. Data flows one way: checks produce Findings, the engine
 * turns them into damped ConditionStates and Transitions, sinks consume those.
 */
import type { Node, Service } from "kubernetes-types/core/v1.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";

/** A JSON or YAML mapping (not a list, not null): the one guard every parser of untrusted documents uses. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Ordered from best to worst: `worstSeverity` relies on this order. */
export const SEVERITIES = ["ok", "warning", "unknown", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export function worstSeverity(severities: Iterable<Severity>): Severity {
  let worst: Severity = "ok";
  for (const s of severities) if (severityRank(s) > severityRank(worst)) worst = s;
  return worst;
}

/**
 * node-doctor's built-in NodeConditions, each fed by its own checks. True
 * means "problem", like kubelet's pressure conditions. Never kubelet's types:
 * we only ever patch ours.
 */
export const CONDITION_TYPES = [
  "KubeletUnhealthy",
  "KubeletConfigInvalid",
  "KubeletCertificateInvalid",
  "ClockSkewed",
  "DiskSpaceLow",
  "ContainerRuntimeUnhealthy",
  "NodeNetworkUnhealthy",
  "KernelUnhealthy",
  "FilesystemErrors",
  "HardwareErrors",
  "NodeResourceExhausted",
] as const;
export type BuiltinConditionType = (typeof CONDITION_TYPES)[number];

declare const customConditionBrand: unique symbol;
/**
 * A condition type an operator configured for a custom check (`checks.custom`).
 * Only `customConditionType` makes one, so every value of this type was
 * validated: never kubelet's, never a built-in one.
 */
export type CustomConditionType = string & { readonly [customConditionBrand]: true };

/** Every condition type a Finding may feed: the built-in ones and the configured ones. */
export type ConditionType = BuiltinConditionType | CustomConditionType;

export function isBuiltinConditionType(value: string): value is BuiltinConditionType {
  return (CONDITION_TYPES as readonly string[]).includes(value);
}

/** kubelet's own NodeConditions: kubelet writes them on every status update, and node-doctor never does. */
export const KUBELET_CONDITION_TYPES = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"] as const;

/**
 * The EKS node monitoring agent's NodeConditions, which Karpenter's node repair
 * and EKS node auto repair act on (True = healthy, False = problem: the other
 * polarity from ours). node-doctor writes them only with `compat.conditions:
 * eks` (src/sinks/compat.ts), and never where that agent writes them.
 */
export const EKS_CONDITION_TYPES = ["KernelReady", "ContainerRuntimeReady", "StorageReady", "NetworkingReady", "AcceleratedHardwareReady"] as const;
export type EksConditionType = (typeof EKS_CONDITION_TYPES)[number];

export function isEksConditionType(value: string): value is EksConditionType {
  return (EKS_CONDITION_TYPES as readonly string[]).includes(value);
}

/** A condition type kubectl and the API server accept as a NodeCondition's type, CamelCase as kubelet's. */
export const CONDITION_TYPE_FORMAT = /^[A-Z][A-Za-z0-9]{0,127}$/;

/** Why `value` cannot be a custom condition type, or undefined when it can. */
export function customConditionTypeProblem(value: string): string | undefined {
  if (!CONDITION_TYPE_FORMAT.test(value)) {
    return `must be a CamelCase condition type (a capital letter, then letters and digits, at most 128), got ${JSON.stringify(value)}`;
  }
  if ((KUBELET_CONDITION_TYPES as readonly string[]).includes(value)) {
    return `${value} is kubelet's own condition; node-doctor never writes kubelet's conditions (${KUBELET_CONDITION_TYPES.join(", ")}): choose a type of your own`;
  }
  if (isBuiltinConditionType(value)) return `${value} is fed by node-doctor's own checks; choose a type of your own`;
  if (isEksConditionType(value)) {
    return `${value} is the EKS node monitoring agent's (True means healthy there, and repairers act on False): node-doctor writes it from its own findings with compat.conditions: eks; choose a type of your own`;
  }
  return undefined;
}

/** Validates a configured condition type: the one way to make a CustomConditionType. */
export function customConditionType(value: string): CustomConditionType {
  const problem = customConditionTypeProblem(value);
  if (problem) throw new Error(problem);
  return value as CustomConditionType;
}

/** Reason and message a built-in condition carries when nothing feeding it found a problem. */
export const HEALTHY_CONDITION: Record<BuiltinConditionType, { reason: string; message: string }> = {
  KubeletUnhealthy: { reason: "KubeletHealthy", message: "kubelet is running and its health endpoint answers" },
  KubeletConfigInvalid: { reason: "KubeletConfigValid", message: "kubelet's flags and configuration pass node-doctor's checks" },
  KubeletCertificateInvalid: { reason: "KubeletCertificatesValid", message: "kubelet's certificates are valid" },
  ClockSkewed: { reason: "ClockSynchronized", message: "the node's clock agrees with its references" },
  DiskSpaceLow: { reason: "DiskSpaceSufficient", message: "kubelet's filesystems have space and inodes above their thresholds" },
  ContainerRuntimeUnhealthy: { reason: "ContainerRuntimeHealthy", message: "the container runtime answers and reports ready" },
  NodeNetworkUnhealthy: { reason: "NodeNetworkHealthy", message: "the node's links, routes, forwarding, cluster DNS and Service path work" },
  KernelUnhealthy: { reason: "KernelHealthy", message: "the kernel reports no OOM kills of the node's memory, hangs, lockups, oopses or exhausted tables" },
  FilesystemErrors: { reason: "NoFilesystemErrors", message: "the kernel reports no ext4 or XFS errors" },
  HardwareErrors: { reason: "NoHardwareErrors", message: "the kernel reports no disk I/O errors, machine checks or GPU errors" },
  NodeResourceExhausted: {
    reason: "NodeResourcesSufficient",
    message: "tasks, conntrack entries and file handles are below their limits and memory and I/O do not stall",
  },
};

/**
 * How a condition reads when nothing feeding it found a problem: a built-in
 * condition's fixed text, or for a configured one the ok finding its check
 * made (its reason and message come from the operator's configuration).
 */
export function healthyCondition(type: ConditionType, findings: readonly Finding[]): { reason: string; message: string } {
  if (isBuiltinConditionType(type)) return HEALTHY_CONDITION[type];
  const ok = findings.find((f) => f.condition === type && f.severity === "ok");
  return ok ? { reason: ok.reason, message: ok.message } : { reason: "NoProblemFound", message: "no check feeding this condition found a problem" };
}

/**
 * What a machine may do about a reason: Events, metrics and the repairers read it
 * (docs/remediation.md). "none" means a person must act.
 */
export const REPAIR_CLASSES = ["none", "restart-kubelet", "restart-runtime", "repoint-client-cert", "enable-unit", "reboot", "replace"] as const;
export type RepairClass = (typeof REPAIR_CLASSES)[number];

/** The classes node-doctor's local repair can carry out on the node itself (docs/remediation.md, Local repair). */
export const LOCAL_REPAIR_CLASSES = ["restart-kubelet", "restart-runtime", "enable-unit", "repoint-client-cert"] as const satisfies readonly RepairClass[];
export type LocalRepairClass = (typeof LOCAL_REPAIR_CLASSES)[number];

export function isLocalRepairClass(value: string): value is LocalRepairClass {
  return (LOCAL_REPAIR_CLASSES as readonly string[]).includes(value);
}

export function isRepairClass(value: unknown): value is RepairClass {
  return typeof value === "string" && (REPAIR_CLASSES as readonly string[]).includes(value);
}

/** The repair class the engine stamped into a finding's evidence ("none" when there is none). */
export function findingRepairClass(finding: Pick<Finding, "evidence">): RepairClass {
  const value = finding.evidence?.["repair"];
  return isRepairClass(value) ? value : "none";
}

/** What a machine may do about a condition's current state: the repair class of the finding it reports. */
export function conditionRepairClass(state: Pick<ConditionState, "reason" | "severity" | "findings">): RepairClass {
  if (state.severity === "ok") return "none";
  const reported = state.findings.find((f) => f.reason === state.reason && f.severity === state.severity);
  return reported ? findingRepairClass(reported) : "none";
}

/** One reason as documented: the single source of its entry in docs/reasons.md. */
export interface ReasonSpec {
  /** Every severity a finding with this reason may carry. */
  severities: readonly Severity[];
  /** The condition, for checks that feed several (kubelet-logs); otherwise the check's own. */
  condition?: ConditionType;
  /** When each severity applies, where the list alone does not say (markdown). */
  severity?: string;
  /** What the finding means (markdown). */
  meaning: string;
  /** What to do (markdown); absent when there is nothing to do. */
  remedy?: string;
  repair: RepairClass;
}

/** A check's (or the engine's) reasons: code takes the names, docs/reasons.md the rest. */
export interface ReasonCatalogue<R extends string = string> {
  /** The check's name, or "engine". */
  readonly check: string;
  /** The section's introduction in docs/reasons.md (markdown). */
  readonly intro: string;
  readonly reasons: { readonly [K in R]: ReasonSpec };
  /** Each reason's name as a constant, for findings: `DISK.names.NodeFsAvailableLow`. */
  readonly names: { readonly [K in R]: K };
}

export function defineReasons<const R extends string>(catalogue: Omit<ReasonCatalogue<R>, "names">): ReasonCatalogue<R> {
  const names = Object.fromEntries(Object.keys(catalogue.reasons).map((name) => [name, name])) as { [K in R]: K };
  return { ...catalogue, names };
}

/** One observation about the node. A sick node is a Finding, never an exception. */
export interface Finding {
  /** Name of the check that produced it, e.g. "disk". */
  check: string;
  /** The NodeCondition it feeds. */
  condition: ConditionType;
  severity: Severity;
  /** CamelCase, stable, documented in docs/reasons.md: "NodeFsAvailableLow". */
  reason: string;
  /** One sentence with the facts: paths, times, values. */
  message: string;
  /** What to do, concretely: the file, the command. */
  remedy?: string;
  /** Machine-readable facts behind the finding (also the source of per-check metrics). */
  evidence?: Record<string, unknown>;
}

/** Time and timers as the process sees them. Injected so tests run hours of simulated time in milliseconds. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch, as this host believes. */
  now(): number;
  /** Monotonic milliseconds; unaffected when the wall clock is stepped. */
  monotonic(): number;
  /** Like the global setTimeout; the timer never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle from Clock.setTimeout. */
export type TimerHandle = { readonly timer: unknown };

/** Offset of the local clock from a reference: reference = local + offsetMs. */
export interface ClockEstimate {
  source: "apiserver" | "ntp";
  offsetMs: number;
  /** Half-width of the interval the true offset lies in. */
  uncertaintyMs: number;
  /** Clock.monotonic() when measured, so stale estimates can be ignored. */
  measuredAtMonotonicMs: number;
}

/** "Now" corrected by the best available clock estimate. */
export interface TrustedTime {
  nowMs: number;
  source: "local" | "apiserver" | "ntp";
  offsetMs: number;
  uncertaintyMs: number;
}

/** The image filesystem as the container runtime reports it (CRI ImageFsInfo). */
export interface ImageFsFact {
  mountpoint: string;
  usedBytes: number;
  inodesUsed?: number;
  measuredAtMonotonicMs: number;
}

/** Whether the container runtime kubelet talks to answers CRI (Version and Status), as the runtime check last saw it. */
export interface RuntimeFact {
  /** The endpoint asked. */
  endpoint: string;
  /** True when it answered; false when it did not (no socket, refused, hung, not CRI). */
  answers: boolean;
  measuredAtMonotonicMs: number;
}

/** A filesystem the kernel reported broken (an ext4 error, an aborted journal, a read-only remount, an XFS shutdown), by its block device name. */
export interface KernelFilesystemReport {
  /** The kernel check's reason (Ext4Error, FilesystemRemountedReadOnly, XfsShutdown, …). */
  reason: string;
  /** The kernel's line. */
  line: string;
  /** When it was logged (ms since the epoch). */
  atMs: number;
  /** The kernel stops writes to it: a read-only remount, an aborted journal or a shutdown. */
  refusesWrites: boolean;
}

/** Filesystems the kernel reported broken within the kernel check's windows, by block device name ("sdb1", "loop0", "dm-3"). */
export interface KernelFilesystemsFact {
  devices: Record<string, KernelFilesystemReport>;
  measuredAtMonotonicMs: number;
}

/**
 * Facts one check measures and others use, passed through the context rather
 * than a global. Each field has exactly one writer, named in its comment.
 */
export interface SharedFacts {
  /** Written by the clock check. */
  clockOffset?: ClockEstimate;
  /** Written by the runtime check. */
  imageFs?: ImageFsFact;
  /** Written by the runtime check; absent until its first run ends, and after a run that could not look. */
  runtime?: RuntimeFact;
  /** Written by the kernel check; the disk check's FilesystemReadOnly reads it. */
  kernelFilesystems?: KernelFilesystemsFact;
}

/** Structured logger (src/log.ts writes JSON lines). Checks log through a child per check. */
export interface Log {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface FileStat {
  kind: "file" | "directory" | "symlink" | "socket" | "other";
  size: number;
  mode: number;
  uid: number;
  /** Device id of the filesystem holding it (st_dev). */
  dev: number;
  ino: number;
  mtimeMs: number;
}

export interface FsStats {
  /** Bytes available to unprivileged users (f_bavail * f_bsize), what kubelet calls "available". */
  availableBytes: number;
  sizeBytes: number;
  filesFree: number;
  files: number;
  /** Filesystem magic number from statfs (f_type). */
  type: number;
}

export interface ReadOptions {
  /** Refuse files larger than this (default 4 MiB): bounded memory under every input. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * The node's filesystem, rooted at --host-root. Every path a check passes is
 * the path as it is on the node ("/var/lib/kubelet/config.yaml"); absolute
 * symlink targets are resolved inside the root, as the node would see them.
 * Errors are HostPathError: they name the node path and the problem.
 */
export interface Host {
  readonly root: string;
  /** The local path of a node path, without following symlinks. */
  local(nodePath: string): string;
  /** Follow symlinks as the node would; returns the final node path. */
  resolve(nodePath: string): Promise<string>;
  readText(nodePath: string, options?: ReadOptions): Promise<string>;
  readBytes(nodePath: string, options?: ReadOptions): Promise<Buffer>;
  readLink(nodePath: string): Promise<string>;
  /** Follows symlinks inside the root. */
  stat(nodePath: string): Promise<FileStat>;
  lstat(nodePath: string): Promise<FileStat>;
  list(nodePath: string): Promise<string[]>;
  exists(nodePath: string): Promise<boolean>;
  statfs(nodePath: string, signal?: AbortSignal): Promise<FsStats>;
}

/** What the API server said about one read, with the timing the clock check needs. */
export interface ApiTiming {
  /** Server's Date header in ms since the epoch (1 s resolution), if sent. */
  serverDateMs?: number;
  /** Local wall clock when the request was sent and the response headers arrived. */
  sentAtMs: number;
  receivedAtMs: number;
}

/**
 * Read access to this node's objects on the API server, for checks. Absent
 * from the context when there is no cluster (a laptop); methods throw when
 * the API server could not be asked, which the engine reports as unknown.
 */
export interface ClusterReader {
  readonly nodeName: string;
  /** The Node, or null when it does not exist (404). */
  getNode(signal: AbortSignal): Promise<{ node: Node | null; timing: ApiTiming }>;
  /** kube-node-lease/<node>, or null when it does not exist. */
  getLease(signal: AbortSignal): Promise<{ lease: Lease | null; timing: ApiTiming }>;
  /** A cheap request (GET /version) for its Date header and round trip. */
  probeTime(signal: AbortSignal): Promise<ApiTiming>;
  /** default/kubernetes, the API server's own Service, with its EndpointSlice of the same name; null when the Service does not exist. */
  getKubernetesService(signal: AbortSignal): Promise<{ service: Service; endpointSlices: EndpointSlice[] } | null>;
}

export interface CheckContext {
  host: Host;
  /** Aborted when the check's timeout passes or the agent shuts down. */
  signal: AbortSignal;
  clock: Clock;
  /** Local time corrected by the clock check's estimate when one is fresh. */
  trustedNow(): TrustedTime;
  /** Facts shared between checks; see SharedFacts for who writes what. */
  facts: SharedFacts;
  /** Absent without a cluster. */
  cluster?: ClusterReader;
  log: Log;
  /** The latest findings of another check (raw, undamped), for cross-checks. */
  peerFindings(check: string): readonly Finding[];
}

export interface Check {
  readonly name: string;
  /** The conditions this check feeds; when it cannot look, they get an unknown finding. */
  readonly conditions: readonly ConditionType[];
  /**
   * Corroborates conditions other checks own (kubelet-logs): when it cannot
   * look, its unknown findings do not override a condition that another
   * feeder could judge. Absent means false.
   */
  readonly secondary?: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /**
   * Writes SharedFacts other checks read (the clock offset, the image
   * filesystem): in every first round it starts before the others, which
   * wait for it briefly (Scheduler's FACTS_FIRST_WAIT_MS).
   */
  readonly writesFacts?: boolean;
  /** Look and judge. Throws only when it could not look. */
  run(ctx: CheckContext): Promise<Finding[]>;
  /** Release long-lived resources (followers, connections) at shutdown. */
  close?(): Promise<void>;
}

/** What happened when the engine ran a check once. */
export interface CheckRun {
  check: string;
  startedAtMs: number;
  durationMs: number;
  outcome: "ok" | "error" | "timeout" | "overrun";
  /** For error/timeout/overrun: why the check could not look. */
  error?: string;
  /** Raw findings, including the engine's unknown findings on failure. */
  findings: readonly Finding[];
}

export type ConditionStatus = "True" | "False" | "Unknown";

/** A condition as the engine accepted it, after flap damping. */
export interface ConditionState {
  type: ConditionType;
  status: ConditionStatus;
  severity: Severity;
  reason: string;
  message: string;
  remedy?: string;
  /** Wall-clock ms of the last status change. */
  sinceMs: number;
  /** True while flap damping holds this state. */
  flapping: boolean;
  /** Every accepted finding feeding it, worst first. */
  findings: readonly Finding[];
}

export interface Transition {
  condition: ConditionType;
  /** Undefined for the first state after start. */
  from?: ConditionState;
  to: ConditionState;
  atMs: number;
}

/** Read-only view of the engine's state, handed to sinks. */
export interface StateView {
  conditions(): readonly ConditionState[];
  condition(type: ConditionType): ConditionState | undefined;
  lastRun(check: string): CheckRun | undefined;
  runs(): readonly CheckRun[];
  /** True once every enabled check has completed (or failed) at least once. */
  firstRoundDone(): boolean;
}

/** Consumes engine state; never calls checks. */
export interface Sink {
  readonly name: string;
  onCheckRun?(run: CheckRun, state: StateView): void;
  onTransitions?(transitions: readonly Transition[], state: StateView): void;
  close?(): Promise<void>;
}
