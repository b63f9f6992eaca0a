/**
 * Is kubelet alive, will it come back after a reboot, and does the cluster
 * hear from it? Condition `KubeletUnhealthy`.
 *
 * Gather (host /proc, the unit tree, systemd over D-Bus, kubelet's healthz,
 * the node's addresses, the Node and its Lease through the API) then judge
 * (pure). The hot path spawns nothing: the D-Bus connection stays open and
 * the API is read at most once per `clusterIntervalSeconds`.
 *
 * Timing: kubelet dies → the next run (≤ intervalSeconds) sees no process →
 * the engine's damping accepts it on the run after → the condition is True
 * about 2 × 10 s after the death, inside the 30 s the chart promises.
 */
import { request } from "node:http";
import type { Node } from "kubernetes-types/core/v1.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import { checkSettings, type CommonCheckSettings } from "../../config/config.js";
import { absolutePath, number, optional, string, withDefault } from "../../config/schema.js";
import { canonicalIp, readHostAddresses } from "../../node/addresses.js";
import { present } from "../../node/could-not-look.js";
import { configValue, stringSetting } from "../../node/kubelet/config.js";
import { KUBELET_BINARIES, kubeletArgs, parseKubeletFlags, type KubeletLocator, type KubeletSetup } from "../../node/kubelet/locator.js";
import type { Distribution } from "../../node/distro/index.js";
import { DEFAULT_SYSTEM_BUS_SOCKET, readUnitFiles, SystemdBus, type UnitFiles, type UnitState } from "../../node/systemd.js";
import { flagSources, readEnvironmentArgs, readUnitCommand } from "../../node/unit-file.js";
import { conditionOwners, describeOwners, ownershipOf } from "../../kube/ownership.js";
import { sh } from "../../text/shell.js";
import { isBuiltinConditionType, KUBELET_CONDITION_TYPES, severityRank, type Check, type CheckContext, type Finding, type Host } from "../../types.js";
import { REASONS } from "./reasons.js";

export const KUBELET_REASONS = REASONS.names;

function httpUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" ? undefined : `must be an http:// URL (kubelet's healthz is plain HTTP), got ${JSON.stringify(value)}`;
  } catch {
    return `must be a URL such as http://127.0.0.1:10248/healthz, got ${JSON.stringify(value)}`;
  }
}

export const kubeletSettings = checkSettings(
  { intervalSeconds: 10, timeoutSeconds: 5 },
  {
    /** kubelet's health endpoint; default from its --healthz-bind-address/--healthz-port (or config), else http://127.0.0.1:10248/healthz. */
    healthzUrl: optional(string({ check: httpUrl })),
    healthzTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 2),
    /** kubelet's systemd unit; by default the distribution's (kubelet.service, k3s-agent.service, rke2-agent.service …). */
    unit: optional(string({ nonEmpty: true })),
    /** The host's system bus socket, as a node path under the host root. */
    dbusSocket: withDefault(string({ check: absolutePath }), DEFAULT_SYSTEM_BUS_SOCKET),
    dbusTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 1),
    restartWindowSeconds: withDefault(number({ min: 10, max: 86400 }), 600),
    /** Restarts within the window that make a warning, and a critical. */
    restartsWarning: withDefault(number({ min: 1, max: 1000, integer: true }), 3),
    restartsCritical: withDefault(number({ min: 1, max: 1000, integer: true }), 6),
    /** How often the Node and its Lease are read: an agent on every node must not load the API server. */
    clusterIntervalSeconds: withDefault(number({ min: 10, max: 3600 }), 300),
    /** Deadline of one Node + Lease read; it runs beside the check, so a slow API server never delays the local verdict. */
    clusterTimeoutSeconds: withDefault(number({ min: 1, max: 300 }), 10),
    /** A Lease not renewed for this many lease durations is stale (the node controller gives up after one). */
    leaseStaleFactor: withDefault(number({ min: 1, max: 100 }), 4),
    /** A foreign Node condition whose heartbeat is older than this is stale. */
    staleConditionSeconds: withDefault(number({ min: 600, max: 365 * 86400 }), 3600),
  },
);

export type KubeletSettings = CommonCheckSettings & {
  healthzUrl?: string | undefined;
  healthzTimeoutSeconds: number;
  unit?: string | undefined;
  dbusSocket: string;
  dbusTimeoutSeconds: number;
  restartWindowSeconds: number;
  restartsWarning: number;
  restartsCritical: number;
  clusterIntervalSeconds: number;
  clusterTimeoutSeconds: number;
  leaseStaleFactor: number;
  staleConditionSeconds: number;
};

// ---------------------------------------------------------------- observation

export type HealthzResult =
  | { url: string; outcome: "ok"; status: number }
  | { url: string; outcome: "status"; status: number; body: string }
  | { url: string; outcome: "refused" | "timeout" | "error"; detail: string }
  | { url: string; outcome: "disabled"; detail: string };

export type ClusterObservation =
  { state: "absent" } | { state: "error"; error: string } | { state: "ok"; nodeName: string; node: Node | null; lease: Lease | null; atMs: number };

export interface KubeletObservation {
  unitName: string;
  /** The installer that built the node: how its kubelet is started, restarted and logged. */
  distribution: Pick<Distribution, "id" | "name" | "logs" | "restartKubelet">;
  /** Units that start kubelet at boot on this distribution besides its own (EKS AL2023's nodeadm-run.service), as their files say. */
  starters: UnitFiles[];
  /** kubelet runs inside this process (k3s): there is no kubelet process of its own. */
  embedded?: boolean;
  /** Signs that this host is meant to run kubelet. */
  presence: { binary?: string; stateDir?: string };
  process?: { pid: number; startTimeMs?: number };
  otherPids: number[];
  unitFiles: UnitFiles;
  /** From systemd over D-Bus; absent when no bus socket is mounted or it failed (busError). */
  unitState?: UnitState;
  busError?: string;
  healthz?: HealthzResult;
  restarts: { count: number; windowSeconds: number };
  nodeIp: { wanted: string[]; source: string; present: string[]; missing: string[]; problems: string[] };
  cluster: ClusterObservation;
  /** trustedNow() when observed, for ages. */
  nowMs: number;
}

// ---------------------------------------------------------------- judging

const BASE = { check: "kubelet", condition: "KubeletUnhealthy" as const };

/** Conditions kubelet owns (its heartbeat is the Lease) or that are set once by design. */
const NOT_HEARTBEATING = new Set<string>(KUBELET_CONDITION_TYPES);
/** Conditions an older kubelet wrote and a newer one never touches again. */
const RETIRED_CONDITIONS: Record<string, string> = {
  OutOfDisk: "kubelet stopped maintaining OutOfDisk in 1.13 (DiskPressure replaced it)",
  ConfigOK: "kubelet stopped maintaining ConfigOK when dynamic kubelet configuration was removed (1.24)",
};

function describeUnit(o: KubeletObservation): string {
  const s = o.unitState;
  if (!s) return o.busError ? `${o.unitName} state unknown (systemd unreachable: ${o.busError})` : `${o.unitName} state unknown (no system bus socket)`;
  if (!s.loaded) return `${o.unitName} is not loaded by systemd (inactive)`;
  const parts = [`${o.unitName} is ${s.activeState}${s.subState ? ` (${s.subState})` : ""}`];
  if (s.result && s.result !== "success") parts.push(`last result ${s.result}${s.execMainStatus ? `, exit status ${s.execMainStatus}` : ""}`);
  if (s.nRestarts) parts.push(`restarted ${s.nRestarts} times by systemd`);
  return parts.join(", ");
}

function describeHealthz(h: HealthzResult): string {
  switch (h.outcome) {
    case "ok":
      return `${h.url} answered ok`;
    case "status":
      return `${h.url} answered HTTP ${h.status}${h.body ? ` (${JSON.stringify(h.body)})` : ""}`;
    case "refused":
      return `${h.url} refused the connection`;
    case "timeout":
      return `${h.url} did not answer within ${h.detail}`;
    case "error":
      return `${h.url} failed: ${h.detail}`;
    case "disabled":
      return h.detail;
  }
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function ownUnitEnabled(o: KubeletObservation): boolean {
  const fileState = o.unitState?.unitFileState;
  // systemd's own answer wins; "static", "generated", "indirect" units are started by something else.
  if (fileState && o.unitState?.loadState !== "not-found") return !["disabled", "masked", "masked-runtime"].includes(fileState);
  return !o.unitFiles.masked && o.unitFiles.wantedBy.length > 0;
}

function isMasked(o: KubeletObservation): boolean {
  return o.unitFiles.masked || o.unitState?.unitFileState?.startsWith("masked") === true;
}

/** An enabled unit that starts kubelet at boot although kubelet's own unit is not enabled (nodeadm-run.service). */
function enabledStarter(o: KubeletObservation): UnitFiles | undefined {
  return o.starters.find((u) => !u.masked && u.wantedBy.length > 0);
}

/** Will kubelet come back after a reboot: its unit is enabled, or an enabled unit starts it. */
function isEnabled(o: KubeletObservation): boolean {
  return ownUnitEnabled(o) || (!isMasked(o) && enabledStarter(o) !== undefined);
}

/** Pure: turns one observation into findings. */
export function judgeKubelet(
  o: KubeletObservation,
  settings: Pick<KubeletSettings, "restartsWarning" | "restartsCritical" | "leaseStaleFactor" | "staleConditionSeconds">,
): Finding[] {
  const findings: Finding[] = [];
  const healthzOk = o.healthz?.outcome === "ok";
  const running = o.process !== undefined || healthzOk;
  // The pod may see only /etc/systemd of the unit tree: a drop-in or a wants/ link also proves the unit.
  const unitKnown =
    o.unitFiles.unitFile !== undefined ||
    o.unitFiles.dropInDirs.length > 0 ||
    o.unitFiles.wantedBy.length > 0 ||
    (o.unitState?.loaded === true && o.unitState.loadState !== "not-found");

  if (!running && !unitKnown && !o.presence.binary && !o.presence.stateDir) {
    return [
      {
        ...BASE,
        severity: "ok",
        reason: KUBELET_REASONS.NotAKubernetesNode,
        message: `This host has no kubelet: no kubelet process, no ${o.unitName} unit, no kubelet binary, no /var/lib/kubelet and no answer on kubelet's healthz; kubelet checks are skipped.`,
        evidence: { running: false },
      },
    ];
  }

  const unitFacts = {
    unit: o.unitName,
    unitFile: o.unitFiles.unitFile,
    wantedBy: o.unitFiles.wantedBy,
    masked: o.unitFiles.masked,
    ...(o.unitState ? { unitState: o.unitState } : {}),
  };
  const active = o.unitState?.loaded ? ["active", "activating", "reloading"].includes(o.unitState.activeState) : running;
  let disabledReported = false;
  const unit = o.unitName.replace(/\.service$/, "");
  const logs = o.distribution.logs;
  if (unitKnown && !isEnabled(o)) {
    const masked = isMasked(o);
    const starter = o.starters[0];
    // On a distribution whose kubelet a boot unit starts, that unit is what must be enabled.
    const how = masked ? "masked" : starter ? `not enabled, and neither is ${starter.unit}, which starts it at boot on ${o.distribution.name}` : "disabled";
    const target = !masked && starter ? starter.unit.replace(/\.service$/, "") : unit;
    const remedy = masked ? `\`systemctl unmask ${unit} && systemctl enable --now ${unit}\`` : `\`systemctl enable --now ${target}\``;
    if (!running && !active) {
      disabledReported = true;
      findings.push({
        ...BASE,
        severity: "critical",
        reason: KUBELET_REASONS.KubeletServiceDisabled,
        message: `${o.unitName} is ${how}${o.unitFiles.wantedBy.length === 0 ? " (no *.wants/ link to it, so it does not start at boot)" : ""} and kubelet is not running${o.unitState ? ` (${describeUnit(o)})` : ""}: the node stays NotReady until it is started.`,
        remedy: `${remedy}, then check it stays up: \`systemctl status ${unit}\`.`,
        evidence: unitFacts,
      });
    } else {
      findings.push({
        ...BASE,
        severity: "warning",
        reason: KUBELET_REASONS.KubeletServiceDisabled,
        message: `${o.unitName} is ${how}: ${running ? "kubelet runs now" : `systemd is starting it now (${describeUnit(o)})`} but it will not start after the next reboot.`,
        remedy: masked ? `\`systemctl unmask ${unit} && systemctl enable ${unit}\`` : `\`systemctl enable ${target}\``,
        evidence: unitFacts,
      });
    }
  }

  if (!running && !disabledReported) {
    const healthz = o.healthz ? `; ${describeHealthz(o.healthz)}` : "";
    findings.push({
      ...BASE,
      severity: "critical",
      reason: KUBELET_REASONS.KubeletNotRunning,
      message: `kubelet is not running: no kubelet process in /proc; ${unitKnown ? describeUnit(o) : `no ${o.unitName} unit found${o.presence.stateDir ? ` (${o.presence.stateDir} exists)` : ""}`}${healthz}.`,
      remedy: unitKnown
        ? `Read why it stopped: \`${logs} -n 100 --no-pager\` (flag and config errors also show on the KubeletConfigInvalid condition); fix that, then \`${o.distribution.restartKubelet}\`.`
        : "No kubelet.service unit was found (mount /run/dbus so systemd can be asked, or /etc/systemd): if this node runs kubelet some other way (k3s, rke2, a static unit), start it that way and read its log; if it is no longer a node, remove /var/lib/kubelet.",
      evidence: { ...unitFacts, ...(o.healthz ? { healthz: o.healthz } : {}) },
    });
  }

  if (o.process && o.healthz && o.healthz.outcome !== "ok" && o.healthz.outcome !== "disabled") {
    findings.push({
      ...BASE,
      severity: "critical",
      reason: KUBELET_REASONS.KubeletHealthzFailing,
      message: `kubelet (pid ${o.process.pid}) runs but its health endpoint fails: ${describeHealthz(o.healthz)}.`,
      remedy: `See which check fails: \`curl -sS '${o.healthz.url}?verbose'\` on the node, and why: \`${logs} -n 100 --no-pager\`; a hung kubelet needs \`${o.distribution.restartKubelet}\`.`,
      evidence: { pid: o.process.pid, healthz: o.healthz },
    });
  }

  if (o.restarts.count >= settings.restartsWarning) {
    findings.push({
      ...BASE,
      severity: o.restarts.count >= settings.restartsCritical ? "critical" : "warning",
      reason: KUBELET_REASONS.KubeletRestartingFrequently,
      message: `kubelet restarted ${o.restarts.count} times in the last ${formatAge(o.restarts.windowSeconds * 1000)}${o.process ? ` (now pid ${o.process.pid})` : ""}; ${describeUnit(o)}.`,
      remedy: `Find why it exits: \`${logs} -b --no-pager | grep -iE 'fatal|failed|error' | tail -50\`; flag and config errors also show on the KubeletConfigInvalid condition.`,
      evidence: { restarts: o.restarts.count, windowSeconds: o.restarts.windowSeconds },
    });
  }

  if (o.otherPids.length > 0 && o.process) {
    const pids = [o.process.pid, ...o.otherPids];
    findings.push({
      ...BASE,
      severity: "warning",
      reason: KUBELET_REASONS.MultipleKubeletProcesses,
      message: `${pids.length} kubelet processes run (pids ${pids.join(", ")}); they fight over the same node, ports and files.`,
      remedy: `See where each came from: \`ps -o pid,ppid,lstart,args -p ${pids.join(",")}\`; stop the one not started by ${o.unitName}.`,
      evidence: { pids },
    });
  }

  if (o.nodeIp.missing.length > 0) {
    findings.push({
      ...BASE,
      severity: "critical",
      reason: KUBELET_REASONS.NodeIPNotPresent,
      message: `kubelet's node IP ${o.nodeIp.missing.join(", ")} (${o.nodeIp.source}) is on none of the node's interfaces (addresses present: ${o.nodeIp.present.join(", ") || "none"}).`,
      remedy:
        "Bring up the interface that carries it (`ip -br addr`; a slow Wi-Fi or a failed networking.service is the usual cause), " +
        `and make kubelet wait for the network: a drop-in for ${o.unitName} with \`After=network-online.target\` and \`Wants=network-online.target\`, then \`systemctl daemon-reload && systemctl restart ${unit}\`.`,
      evidence: { nodeIps: o.nodeIp.wanted, missing: o.nodeIp.missing, present: o.nodeIp.present, source: o.nodeIp.source },
    });
  }

  findings.push(...judgeCluster(o, settings, running));

  if (!findings.some((f) => severityRank(f.severity) > severityRank("ok"))) {
    const uptime = o.process?.startTimeMs !== undefined ? `, up ${formatAge(Math.max(0, o.nowMs - o.process.startTimeMs))}` : "";
    findings.unshift({
      ...BASE,
      severity: "ok",
      reason: KUBELET_REASONS.KubeletRunning,
      message: `kubelet is running${o.process ? ` (${o.embedded ? `inside ${o.distribution.name}'s process, ` : ""}pid ${o.process.pid}${uptime})` : " (its process is not visible in /proc: mount the host's /proc)"}; ${o.healthz ? describeHealthz(o.healthz) : "healthz not probed"}; ${describeUnit(o)}.`,
      evidence: { ...(o.process ? { pid: o.process.pid } : {}), ...unitFacts },
    });
  }
  return findings;
}

function judgeCluster(o: KubeletObservation, settings: Pick<KubeletSettings, "leaseStaleFactor" | "staleConditionSeconds">, running: boolean): Finding[] {
  const c = o.cluster;
  if (c.state === "absent" || c.state === "error") {
    return [
      {
        ...BASE,
        severity: "unknown",
        reason: KUBELET_REASONS.KubeletRegistrationUnknown,
        message:
          c.state === "absent"
            ? "No API server is configured, so whether this node is registered and kubelet's Lease is renewed cannot be checked."
            : `Could not read this node's Node and Lease from the API server: ${c.error}.`,
        remedy:
          c.state === "absent"
            ? "Run node-doctor with API access (in-cluster service account, or --kubeconfig and --node-name)."
            : "Check node-doctor's API access (its service account may get nodes and leases in kube-node-lease) and the API server's reachability from this node.",
      },
    ];
  }
  const findings: Finding[] = [];
  if (!c.node) {
    if (running) {
      findings.push({
        ...BASE,
        severity: "critical",
        reason: KUBELET_REASONS.NodeNotRegistered,
        message: `kubelet runs but the API server has no Node named ${JSON.stringify(c.nodeName)}: kubelet never registered, so no pods are scheduled here.`,
        remedy:
          `Look for why registration fails: \`${o.distribution.logs} --no-pager | grep -iE 'regist|api server|unauthorized'\` ` +
          '("No api server defined" means kubelet ignores its --kubeconfig: on kubelet < 1.8 add --require-kubeconfig); ' +
          "check that --kubeconfig names a readable kubeconfig with a server, and that --hostname-override matches the expected node name.",
        evidence: { nodeName: c.nodeName },
      });
    }
    return findings;
  }

  const lease = c.lease;
  // A kubelet known to be down explains its silent Lease; the finding above already says so.
  const leaseMatters = running;
  const durationSeconds = lease?.spec?.leaseDurationSeconds ?? 40;
  const renewMs = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  if (!leaseMatters) {
    // nothing: see above
  } else if (!lease) {
    findings.push({
      ...BASE,
      severity: "warning",
      reason: KUBELET_REASONS.KubeletLeaseStale,
      message: `Node ${c.nodeName} has no Lease kube-node-lease/${c.nodeName}: kubelet is not heartbeating through a Lease (kubelet older than 1.14, or it cannot create it).`,
      remedy: `Look for lease errors: \`${o.distribution.logs} --no-pager | grep -i lease | tail\`.`,
      evidence: { nodeName: c.nodeName },
    });
  } else if (Number.isFinite(renewMs) && c.atMs - renewMs > settings.leaseStaleFactor * durationSeconds * 1000) {
    // Judged at the time the Lease was read, not now: it is read every clusterIntervalSeconds,
    // and kubelet has renewed it many times since.
    const ageMs = c.atMs - renewMs;
    findings.push({
      ...BASE,
      severity: "critical",
      reason: KUBELET_REASONS.KubeletLeaseStale,
      message: `kubelet last renewed Lease kube-node-lease/${c.nodeName} ${formatAge(ageMs)} ago (at ${lease.spec?.renewTime}; lease duration ${durationSeconds} s): the control plane no longer hears from it and marks the node NotReady.`,
      remedy:
        `Find why heartbeats fail: \`${o.distribution.logs} --no-pager | grep -iE 'lease|unauthorized|timeout' | tail\`; ` +
        "check the API server is reachable from the node and kubelet's client certificate is valid (the KubeletCertificateInvalid condition).",
      evidence: { nodeName: c.nodeName, renewTime: lease.spec?.renewTime, leaseDurationSeconds: durationSeconds, ageSeconds: Math.round(ageMs / 1000) },
    });
  }

  const conditions = c.node.status?.conditions ?? [];
  const owners = conditionOwners(c.node);
  conditions.forEach((condition, index) => {
    if (!isBuiltinConditionType(condition.type)) return;
    const ownership = ownershipOf(owners.get(condition.type));
    const recent = ownership.others.filter((o) => o.time === undefined || c.atMs - Date.parse(o.time) <= settings.staleConditionSeconds * 1000);
    const writers = ownership.owner === "foreign" ? ownership.others : recent.filter((o) => o.fields.some((f) => ["status", "reason", "message"].includes(f)));
    if (writers.length === 0) return;
    const managers = [...new Set(writers.map((o) => o.manager))];
    const how =
      ownership.owner === "foreign"
        ? `was added by ${managers.join(", ")}, so node-doctor neither writes nor removes it: node-doctor's own verdict on ${condition.type} shows only in /findings, its metrics and Events`
        : `was added by node-doctor, and ${managers.join(", ")} also writes it: two writers overwrite each other's status`;
    const plugin = NPD_PLUGINS[condition.type];
    const stopOther =
      managers.includes("node-problem-detector") && plugin
        ? `stop node-problem-detector writing it (drop ${plugin} from its --config.custom-plugin-monitor)`
        : `stop ${managers.join(", ")} writing it`;
    findings.push({
      ...BASE,
      severity: "warning",
      reason: KUBELET_REASONS.NodeConditionCollision,
      message: `NodeCondition ${condition.type} on ${c.nodeName} ${how} (managedFields: ${describeOwners(writers)}).`,
      remedy:
        `Choose one writer for ${condition.type}. To keep the other one, disable the node-doctor check that feeds it (docs/conditions.md). ` +
        `To let node-doctor write it, ${stopOther}, then delete the condition: \`${removeConditionCommand(c.nodeName, index, condition.type)}\`; node-doctor writes its own at its next write.`,
      evidence: { condition: condition.type, owner: ownership.owner, managers, index },
    });
  });
  conditions.forEach((condition, index) => {
    if (NOT_HEARTBEATING.has(condition.type) || (isBuiltinConditionType(condition.type) && ownershipOf(owners.get(condition.type)).owner === "ours")) return;
    const heartbeatMs = condition.lastHeartbeatTime ? Date.parse(condition.lastHeartbeatTime) : NaN;
    const retired = RETIRED_CONDITIONS[condition.type];
    const ageMs = c.atMs - heartbeatMs;
    const stale = Number.isFinite(heartbeatMs) ? ageMs > settings.staleConditionSeconds * 1000 : retired !== undefined;
    if (!stale) return;
    const age = Number.isFinite(heartbeatMs) ? `last heartbeat ${formatAge(ageMs)} ago (${condition.lastHeartbeatTime})` : "no heartbeat";
    findings.push({
      ...BASE,
      severity: "warning",
      reason: KUBELET_REASONS.StaleNodeCondition,
      message: `Node condition ${condition.type}=${condition.status} has ${age} and no known owner updates it${retired ? ` (${retired})` : ""}; it will show ${condition.status} forever.`,
      remedy: `If nothing on this cluster still writes ${condition.type}, remove it: \`${removeConditionCommand(c.nodeName, index, condition.type)}\` (kubectl >= 1.24; the test op makes it a no-op if the conditions moved).`,
      evidence: {
        condition: condition.type,
        status: condition.status,
        lastHeartbeatTime: condition.lastHeartbeatTime,
        ageSeconds: Number.isFinite(ageMs) ? Math.round(ageMs / 1000) : undefined,
        index,
      },
    });
  });
  return findings;
}

/** node-problem-detector's stock plugin that writes each of our condition types (its config/ directory). */
const NPD_PLUGINS: Record<string, string> = {
  KubeletUnhealthy: "health-checker-kubelet.json",
  ContainerRuntimeUnhealthy: "health-checker-containerd.json (or health-checker-docker.json)",
};

/** Deletes the condition at `index` of a Node's status, only while it is still `type` there (a JSON patch test op). */
function removeConditionCommand(nodeName: string, index: number, type: string): string {
  const patch = JSON.stringify([
    { op: "test", path: `/status/conditions/${index}/type`, value: type },
    { op: "remove", path: `/status/conditions/${index}` },
  ]);
  return sh`kubectl patch node ${nodeName} --subresource=status --type=json -p ${patch}`;
}

// ---------------------------------------------------------------- gathering

/** How long one run waits for the API before judging with the previous answer. */
const CLUSTER_WAIT_MS = 2000;

/** Resolves when `work` settles or after `ms`, whichever is first; never rejects. */
function waitAtMost(work: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
    work.then(done, done);
  });
}

const DEFAULT_HEALTHZ_PORT = 10248;

/** kubelet's healthz URL from its flags, then its config, then its defaults; undefined when healthzPort is 0 (disabled). */
export function healthzUrlFor(setup: Pick<KubeletSetup, "flags"> & Partial<Pick<KubeletSetup, "configFiles">>): string | undefined {
  const portSetting = setup.flags.values.get("healthz-port") ?? configValue(setup.configFiles, "healthzPort");
  const port = portSetting === undefined || portSetting === null ? DEFAULT_HEALTHZ_PORT : Number(portSetting);
  if (port === 0) return undefined;
  let address = stringSetting(setup.flags, setup.configFiles, "healthz-bind-address", "healthzBindAddress")?.value ?? "127.0.0.1";
  if (address === "" || address === "0.0.0.0") address = "127.0.0.1";
  if (address === "::") address = "::1";
  const host = address.includes(":") ? `[${address}]` : address;
  return `http://${host}:${Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_HEALTHZ_PORT}/healthz`;
}

/** One GET with its own deadline; never throws for a sick kubelet. */
export function probeHealthz(url: string, timeoutMs: number, signal: AbortSignal): Promise<HealthzResult> {
  return new Promise((resolve) => {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    let done = false;
    const finish = (result: HealthzResult) => {
      if (!done) {
        done = true;
        resolve(result);
      }
    };
    const req = request(url, { method: "GET", agent: false, signal: deadline, headers: { accept: "text/plain" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 512) body += chunk;
      });
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const text = body.trim().slice(0, 200);
        finish(status === 200 && text === "ok" ? { url, outcome: "ok", status } : { url, outcome: "status", status, body: text });
      });
      res.on("error", (error) => finish({ url, outcome: "error", detail: error.message }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (deadline.aborted && !signal.aborted) finish({ url, outcome: "timeout", detail: `${timeoutMs} ms` });
      else if (error.code === "ECONNREFUSED") finish({ url, outcome: "refused", detail: "connection refused" });
      else finish({ url, outcome: "error", detail: error.message });
    });
    req.end();
  });
}

async function firstExisting(host: Host, paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) if (await present(host, path)) return path;
  return undefined;
}

export interface KubeletCheckDeps {
  kubelet: KubeletLocator;
}

/** How long a healthy kubelet's unit files, systemd state and node addresses are reused. */
const SLOW_REFRESH_MS = 60_000;

export function createKubeletCheck(settings: KubeletSettings, deps: KubeletCheckDeps): Check {
  let bus: SystemdBus | undefined;
  let lastProcess: string | undefined;
  let lastNRestarts: number | undefined;
  const restartTimes: number[] = [];
  let cluster: { atMonotonicMs: number; value: ClusterObservation } | undefined;
  let clusterRefresh: Promise<void> | undefined;
  let refreshAbort: AbortController | undefined;
  let saidNotANode = false;
  /** Slow-changing observations of a healthy kubelet, reused for SLOW_REFRESH_MS. */
  let slow:
    | {
        identity: string;
        atMonotonicMs: number;
        unitFiles: UnitFiles;
        starters: UnitFiles[];
        presence: KubeletObservation["presence"];
        unitState?: UnitState;
        busError?: string;
        nodeIp: KubeletObservation["nodeIp"];
      }
    | undefined;

  function countRestarts(ctx: CheckContext, process: KubeletObservation["process"], nRestarts: number | undefined): number {
    const now = ctx.clock.monotonic();
    const identity = process ? `${process.pid}@${process.startTimeMs ?? ""}` : undefined;
    const byPid = identity !== undefined && lastProcess !== undefined && identity !== lastProcess ? 1 : 0;
    const bySystemd = nRestarts !== undefined && lastNRestarts !== undefined && nRestarts > lastNRestarts ? nRestarts - lastNRestarts : 0;
    // systemd's counter also sees restarts faster than our interval; a new pid covers kubelets not run by systemd.
    for (let i = 0; i < Math.max(byPid, bySystemd); i++) restartTimes.push(now);
    if (identity !== undefined) lastProcess = identity;
    if (nRestarts !== undefined) lastNRestarts = nRestarts;
    const windowMs = settings.restartWindowSeconds * 1000;
    while (restartTimes.length > 0 && (restartTimes[0] as number) < now - windowMs) restartTimes.shift();
    return restartTimes.length;
  }

  /**
   * The Node and Lease, read at most once per clusterIntervalSeconds. A slow
   * API server must not hold up the local verdict: the run waits at most
   * CLUSTER_WAIT_MS for a refresh, then judges with the previous answer while
   * the refresh finishes in the background under its own deadline.
   */
  async function observeCluster(ctx: CheckContext): Promise<ClusterObservation> {
    const reader = ctx.cluster;
    if (!reader) return { state: "absent" };
    const now = ctx.clock.monotonic();
    const stale = !cluster || now - cluster.atMonotonicMs >= settings.clusterIntervalSeconds * 1000;
    if (stale && !clusterRefresh) {
      // One controller per read, aborted by its own timer or by close(): no signal outlives the read.
      const refresh = new AbortController();
      refreshAbort = refresh;
      const timer = setTimeout(() => refresh.abort(new Error(`no answer within ${settings.clusterTimeoutSeconds} s`)), settings.clusterTimeoutSeconds * 1000);
      clusterRefresh = (async () => {
        let value: ClusterObservation;
        try {
          const [{ node }, { lease }] = await Promise.all([reader.getNode(refresh.signal), reader.getLease(refresh.signal)]);
          value = { state: "ok", nodeName: reader.nodeName, node, lease, atMs: ctx.trustedNow().nowMs };
        } catch (error) {
          value = { state: "error", error: error instanceof Error ? error.message : String(error) };
        }
        // Errors are cached too: a down API server is asked again on the same slow cadence.
        cluster = { atMonotonicMs: now, value };
      })().finally(() => {
        clearTimeout(timer);
        clusterRefresh = undefined;
        refreshAbort = undefined;
      });
    }
    if (clusterRefresh) await waitAtMost(clusterRefresh, Math.min(CLUSTER_WAIT_MS, settings.timeoutSeconds * 500), ctx.signal);
    return (
      cluster?.value ?? {
        state: "error",
        error: `the API server did not answer within ${Math.min(CLUSTER_WAIT_MS, settings.timeoutSeconds * 500)} ms (still asking)`,
      }
    );
  }

  return {
    name: "kubelet",
    conditions: ["KubeletUnhealthy"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const { host, signal } = ctx;
      const setup = await deps.kubelet.locate(signal);
      const identity = setup.process ? `${setup.process.pid}@${setup.process.startTimeMs ?? ""}` : undefined;
      // While the same kubelet stays healthy, what changes slowly (unit files, systemd's view, the
      // node's addresses) is re-read once a minute; liveness (process, healthz) every run. Any
      // doubt — another pid, a failed healthz — and everything is read again at once.
      const reuse =
        slow && identity !== undefined && slow.identity === identity && ctx.clock.monotonic() - slow.atMonotonicMs < SLOW_REFRESH_MS ? slow : undefined;

      const unitName = settings.unit ?? setup.distribution.kubeletUnit;
      let unitFiles: UnitFiles;
      let starters: UnitFiles[] = [];
      const presence: KubeletObservation["presence"] = {};
      let unitState: UnitState | undefined;
      let busError: string | undefined;
      if (reuse) {
        ({ unitFiles, unitState, busError, starters } = reuse);
        Object.assign(presence, reuse.presence);
      } else {
        unitFiles = await readUnitFiles(host, unitName, signal);
        for (const starter of setup.distribution.starters) starters.push(await readUnitFiles(host, starter, signal));
        const binary = await firstExisting(host, KUBELET_BINARIES);
        if (binary) presence.binary = binary;
        if (await present(host, setup.rootDir)) presence.stateDir = setup.rootDir;
        bus ??= new SystemdBus(host, settings.dbusSocket, settings.dbusTimeoutSeconds * 1000);
        const couldBeNode = setup.process !== undefined || unitFiles.unitFile !== undefined || presence.binary !== undefined || presence.stateDir !== undefined;
        if (couldBeNode && (await bus.available())) {
          try {
            unitState = await bus.unitState(unitName, signal);
            // systemd's MainPID is the kubelet to trust among several processes named kubelet.
            if (unitState.mainPid) deps.kubelet.noteUnit({ mainPid: unitState.mainPid });
          } catch (error) {
            signal.throwIfAborted();
            busError = error instanceof Error ? error.message : String(error);
            ctx.log.debug({ err: busError }, "systemd unreachable over D-Bus; judging the unit from its files");
          }
        }
      }
      const maybeNode = setup.process !== undefined || unitFiles.unitFile !== undefined || presence.binary !== undefined || presence.stateDir !== undefined;

      const url = settings.healthzUrl ?? healthzUrlFor(setup);
      const healthz: HealthzResult | undefined = !maybeNode
        ? undefined
        : url
          ? await probeHealthz(url, settings.healthzTimeoutSeconds * 1000, signal)
          : { url: "", outcome: "disabled", detail: "kubelet's healthz is disabled (healthzPort 0)" };

      const process = setup.process
        ? { pid: setup.process.pid, ...(setup.process.startTimeMs !== undefined ? { startTimeMs: setup.process.startTimeMs } : {}) }
        : undefined;
      const restarts = countRestarts(ctx, process, reuse ? undefined : unitState?.nRestarts);

      const clusterObservation = maybeNode || healthz?.outcome === "ok" ? await observeCluster(ctx) : { state: "absent" as const };
      const nodeIp = reuse
        ? reuse.nodeIp
        : maybeNode
          ? await observeNodeIp(ctx, setup, clusterObservation)
          : { wanted: [], source: "", present: [], missing: [], problems: [] };
      if (identity !== undefined && healthz?.outcome === "ok") {
        if (!reuse)
          slow = {
            identity,
            atMonotonicMs: ctx.clock.monotonic(),
            unitFiles,
            starters,
            presence: { ...presence },
            ...(unitState ? { unitState } : {}),
            ...(busError ? { busError } : {}),
            nodeIp,
          };
      } else slow = undefined;

      const observation: KubeletObservation = {
        unitName,
        distribution: setup.distribution,
        starters,
        ...(setup.embedded ? { embedded: true } : {}),
        presence,
        ...(process ? { process } : {}),
        otherPids: setup.otherProcesses.map((p) => p.pid),
        unitFiles,
        ...(unitState ? { unitState } : {}),
        ...(busError ? { busError } : {}),
        ...(healthz ? { healthz } : {}),
        restarts: { count: restarts, windowSeconds: settings.restartWindowSeconds },
        nodeIp,
        cluster: clusterObservation,
        nowMs: ctx.trustedNow().nowMs,
      };
      const findings = judgeKubelet(observation, settings);
      if (findings[0]?.reason === KUBELET_REASONS.NotAKubernetesNode) {
        if (!saidNotANode) ctx.log.info({}, "no kubelet on this host: kubelet checks report NotAKubernetesNode");
        saidNotANode = true;
      }
      return findings;
    },
    async close() {
      refreshAbort?.abort(new Error("node-doctor is shutting down"));
      bus?.close();
    },
  };
}

async function observeNodeIp(ctx: CheckContext, setup: KubeletSetup, cluster: ClusterObservation): Promise<KubeletObservation["nodeIp"]> {
  let flagValue = setup.flags.values.get("node-ip");
  let source = setup.process ? `--node-ip of kubelet pid ${setup.process.pid}` : "";
  if (flagValue === undefined && !setup.process) {
    // kubelet is down: the command line its unit starts it with still says what it will be told.
    const unit = await readUnitCommand(ctx.host, setup.distribution.kubeletUnit, ctx.signal);
    if (unit && /\/(kubelet|hyperkube)$|^(kubelet|hyperkube)$/.test(unit.argv[0] ?? "")) {
      flagValue = parseKubeletFlags(kubeletArgs(unit.argv)).values.get("node-ip");
      source = `--node-ip in ${flagSources(unit.sources, ["node-ip"])["node-ip"] ?? unit.unitFiles.join(", ")}`;
    } else if (!unit) {
      // The unit is not visible (the chart mounts /etc/systemd, not /lib/systemd): kubeadm's environment files still say it.
      const env = await readEnvironmentArgs(ctx.host, ctx.signal);
      flagValue = parseKubeletFlags(env.args).values.get("node-ip");
      source = `--node-ip in ${env.sources.join(", ")}`;
    }
  }
  let wanted = (flagValue ?? "")
    .split(",")
    .map((v) => canonicalIp(v))
    .filter((v): v is string => v !== undefined && v !== "0.0.0.0" && v !== "::");
  if (wanted.length === 0 && cluster.state === "ok" && cluster.node) {
    wanted = (cluster.node.status?.addresses ?? [])
      .filter((a) => a.type === "InternalIP")
      .map((a) => canonicalIp(a.address))
      .filter((v): v is string => v !== undefined);
    source = `InternalIP of Node ${cluster.nodeName}`;
  }
  if (wanted.length === 0) return { wanted, source: "", present: [], missing: [], problems: [] };
  const addresses = await readHostAddresses(ctx.host, ctx.signal);
  // Unreadable address tables prove nothing: say nothing rather than a false critical.
  if (addresses.addresses.size === 0) return { wanted, source, present: [], missing: [], problems: addresses.problems };
  const present = [...addresses.addresses].filter((a) => a !== "127.0.0.1" && a !== "::1");
  return { wanted, source, present, missing: wanted.filter((ip) => !addresses.addresses.has(ip)), problems: addresses.problems };
}
