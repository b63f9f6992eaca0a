/**
 * kubelet's verdict, pure: one observation (what gather.ts read) and the
 * thresholds in, findings out. Table-tested in test/unit/kubelet-judge.test.ts.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Distribution } from "../../node/distro/index.js";
import type { UnitFiles, UnitState } from "../../node/systemd.js";
import { conditionOwners, describeOwners, ownershipOf } from "../../kube/ownership.js";
import { sh } from "../../text/shell.js";
import { isBuiltinConditionType, KUBELET_CONDITION_TYPES, severityRank, type Finding } from "../../types.js";
import type { KubeletSettings } from "./index.js";
import { REASONS } from "./reasons.js";
import { formatAge } from "../../text/format.js";

const KUBELET_REASONS = REASONS.names;

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
    const remedy = masked ? `\`${sh`systemctl unmask ${unit} && systemctl enable --now ${unit}`}\`` : `\`${sh`systemctl enable --now ${target}`}\``;
    if (!running && !active) {
      disabledReported = true;
      findings.push({
        ...BASE,
        severity: "critical",
        reason: KUBELET_REASONS.KubeletServiceDisabled,
        message: `${o.unitName} is ${how}${o.unitFiles.wantedBy.length === 0 ? " (no *.wants/ link to it, so it does not start at boot)" : ""} and kubelet is not running${o.unitState ? ` (${describeUnit(o)})` : ""}: the node stays NotReady until it is started.`,
        remedy: `${remedy}, then check it stays up: \`${sh`systemctl status ${unit}`}\`.`,
        evidence: unitFacts,
      });
    } else {
      findings.push({
        ...BASE,
        severity: "warning",
        reason: KUBELET_REASONS.KubeletServiceDisabled,
        message: `${o.unitName} is ${how}: ${running ? "kubelet runs now" : `systemd is starting it now (${describeUnit(o)})`} but it will not start after the next reboot.`,
        remedy: masked ? `\`${sh`systemctl unmask ${unit} && systemctl enable ${unit}`}\`` : `\`${sh`systemctl enable ${target}`}\``,
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
      remedy: `See which check fails: \`${sh`curl -sS ${`${o.healthz.url}?verbose`}`}\` on the node, and why: \`${logs} -n 100 --no-pager\`; a hung kubelet needs \`${o.distribution.restartKubelet}\`.`,
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
        `and make kubelet wait for the network: a drop-in for ${o.unitName} with \`After=network-online.target\` and \`Wants=network-online.target\`, then \`${sh`systemctl daemon-reload && systemctl restart ${unit}`}\`.`,
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
