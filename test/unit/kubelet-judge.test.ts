/**
 * judgeKubelet as a table: what gather.ts read (the process, the unit's files
 * and systemd's view, healthz, restarts, the node IP, the Node and its Lease)
 * in; findings out, on reason, severity and the remedy's key facts. The real
 * processes, D-Bus, healthz servers and API server are in
 * test/checks/kubelet.test.ts and kubelet-api.test.ts. Also the pure parts
 * of gathering: healthz's URL from kubelet's settings, and the restart count.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { ManagedFieldsEntry } from "kubernetes-types/meta/v1.js";
import { countRestarts, healthzUrlFor, newKubeletMemory } from "../../src/checks/kubelet/gather.js";
import { judgeKubelet, type KubeletObservation } from "../../src/checks/kubelet/judge.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import type { Finding } from "../../src/types.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const SETTINGS = { restartsWarning: 3, restartsCritical: 6, leaseStaleFactor: 4, staleConditionSeconds: 3600 };
const KUBEADM = { id: "kubeadm", name: "kubeadm", logs: "journalctl -u kubelet", restartKubelet: "systemctl restart kubelet" } as const;
const ENABLED_FILES = {
  unit: "kubelet.service",
  unitFile: "/lib/systemd/system/kubelet.service",
  masked: false,
  wantedBy: ["multi-user.target"],
  dropInDirs: ["/etc/systemd/system/kubelet.service.d"],
};
const ACTIVE = { loaded: true, loadState: "loaded", activeState: "active", subState: "running", unitFileState: "enabled", result: "success", nRestarts: 0 };
const INACTIVE = { loaded: true, loadState: "loaded", activeState: "inactive", subState: "dead", unitFileState: "disabled", result: "success" };
const NO_IP = { wanted: [], source: "", present: [], missing: [], problems: [] };

function lease(renewTime: string, durationSeconds = 40): Lease {
  return { metadata: { name: "n1", namespace: "kube-node-lease" }, spec: { holderIdentity: "n1", leaseDurationSeconds: durationSeconds, renewTime } };
}

const FRESH_LEASE = lease("2026-03-01T11:59:50.000000Z");

function registered(node: Node = { metadata: { name: "n1" } }, l: Lease | null = FRESH_LEASE): KubeletObservation["cluster"] {
  return { state: "ok", nodeName: "n1", node, lease: l, atMs: NOW };
}

/** A healthy kubeadm kubelet, registered and heartbeating; each row changes what it names. */
function obs(extra: Partial<KubeletObservation> = {}): KubeletObservation {
  return {
    unitName: "kubelet.service",
    distribution: KUBEADM,
    starters: [],
    presence: { binary: "/usr/bin/kubelet", stateDir: "/var/lib/kubelet" },
    process: { pid: 4242, startTimeMs: NOW - 3 * 3600_000 },
    otherPids: [],
    unitFiles: ENABLED_FILES,
    unitState: { ...ACTIVE, mainPid: 4242 },
    healthz: { url: "http://127.0.0.1:10248/healthz", outcome: "ok", status: 200 },
    restarts: { count: 0, windowSeconds: 600 },
    nodeIp: NO_IP,
    cluster: registered(),
    nowMs: NOW,
    ...extra,
  };
}

const { process: _running, healthz: _healthz, ...DOWN } = obs();
/** kubelet down: no process, healthz refused, systemd says inactive. */
function down(extra: Partial<KubeletObservation> = {}): KubeletObservation {
  return {
    ...DOWN,
    healthz: { url: "http://127.0.0.1:10248/healthz", outcome: "refused", detail: "connection refused" },
    unitState: { ...ACTIVE, activeState: "failed", subState: "failed", result: "exit-code", execMainStatus: 1 },
    ...extra,
  };
}

function managed(manager: string, type: string, fields: string[], time = "2026-03-01T11:55:00Z"): ManagedFieldsEntry {
  const held = Object.fromEntries([".", ...fields].map((f) => [f === "." ? "." : `f:${f}`, {}]));
  return {
    apiVersion: "v1",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:status": { "f:conditions": { [`k:${JSON.stringify({ type })}`]: held } } },
    manager,
    operation: "Update",
    time,
    subresource: "status",
  };
}

interface Row {
  name: string;
  observation: KubeletObservation;
  /** Every finding above ok, as [reason, severity], in order; [] means one KubeletRunning ok. */
  problems: Array<[string, Finding["severity"]]>;
  /** Patterns on the finding of the first problem (or the ok finding). */
  message?: RegExp[];
  remedy?: RegExp[];
  evidence?: Record<string, unknown>;
}

const ROWS: Row[] = [
  {
    name: "healthy, registered, heartbeating: one ok with pid and uptime",
    observation: obs(),
    problems: [],
    message: [/kubelet is running \(pid 4242, up 3 h\); http:\/\/127\.0\.0\.1:10248\/healthz answered ok; kubelet\.service is active \(running\)/],
    evidence: { pid: 4242, unit: "kubelet.service" },
  },
  {
    name: "k3s: kubelet inside the distribution's process",
    observation: obs({
      embedded: true,
      distribution: { id: "k3s", name: "k3s", logs: "journalctl -u k3s-agent", restartKubelet: "systemctl restart k3s-agent" },
    }),
    problems: [],
    message: [/inside k3s's process, pid 4242/],
  },
  {
    name: "a workstation: no process, unit, binary, state dir or healthz",
    observation: {
      ...down(),
      presence: {},
      unitFiles: { unit: "kubelet.service", masked: false, wantedBy: [], dropInDirs: [] },
      unitState: { loaded: false, loadState: "not-found", activeState: "inactive" },
      cluster: { state: "absent" },
    },
    problems: [],
    message: [/This host has no kubelet/],
  },
  {
    name: "disabled and stopped after a reboot: critical, enable --now",
    observation: down({ unitFiles: { ...ENABLED_FILES, wantedBy: [] }, unitState: INACTIVE }),
    problems: [["KubeletServiceDisabled", "critical"]],
    message: [/kubelet\.service is disabled \(no \*\.wants\/ link to it, so it does not start at boot\) and kubelet is not running/],
    remedy: [/`systemctl enable --now kubelet`/, /`systemctl status kubelet`/],
  },
  {
    name: "disabled while it runs: a warning about the next reboot",
    observation: obs({ unitFiles: { ...ENABLED_FILES, wantedBy: [] }, unitState: { ...ACTIVE, unitFileState: "disabled" } }),
    problems: [["KubeletServiceDisabled", "warning"]],
    message: [/kubelet runs now but it will not start after the next reboot/],
    remedy: [/^`systemctl enable kubelet`$/],
  },
  {
    name: "masked and stopped: unmask first",
    observation: down({ unitFiles: { ...ENABLED_FILES, masked: true }, unitState: { ...INACTIVE, unitFileState: "masked" } }),
    problems: [["KubeletServiceDisabled", "critical"]],
    message: [/kubelet\.service is masked/],
    remedy: [/`systemctl unmask kubelet && systemctl enable --now kubelet`/],
  },
  {
    name: "EKS AL2023: kubelet's unit is static, nodeadm-run.service starts it at boot and is not enabled",
    observation: down({
      distribution: { id: "eks-al2023", name: "EKS (AL2023)", logs: "journalctl -u kubelet", restartKubelet: "systemctl restart kubelet" },
      unitFiles: { ...ENABLED_FILES, wantedBy: [] },
      unitState: { ...INACTIVE, unitFileState: "disabled" },
      starters: [{ unit: "nodeadm-run.service", unitFile: "/etc/systemd/system/nodeadm-run.service", masked: false, wantedBy: [], dropInDirs: [] }],
    }),
    problems: [["KubeletServiceDisabled", "critical"]],
    message: [/not enabled, and neither is nodeadm-run\.service, which starts it at boot on EKS \(AL2023\)/],
    remedy: [/`systemctl enable --now nodeadm-run`/],
  },
  {
    name: "EKS AL2023: an enabled nodeadm-run.service brings kubelet back, so a static kubelet unit is fine",
    observation: obs({
      unitFiles: { ...ENABLED_FILES, wantedBy: [] },
      unitState: { ...ACTIVE, unitFileState: "static" },
      starters: [{ unit: "nodeadm-run.service", masked: false, wantedBy: ["multi-user.target"], dropInDirs: [] }],
    }),
    problems: [],
  },
  {
    name: "enabled but crashed: not running, with the distribution's log command",
    observation: down(),
    problems: [["KubeletNotRunning", "critical"]],
    message: [
      /kubelet is not running: no kubelet process in \/proc; kubelet\.service is failed \(failed\), last result exit-code, exit status 1; http:\/\/127\.0\.0\.1:10248\/healthz refused the connection\./,
    ],
    remedy: [/`journalctl -u kubelet -n 100 --no-pager`/, /then `systemctl restart kubelet`/],
  },
  {
    name: "no unit found but a state dir: not running, start it the way this node runs it",
    observation: down({
      unitFiles: { unit: "kubelet.service", masked: false, wantedBy: [], dropInDirs: [] },
      unitState: { loaded: false, activeState: "inactive" },
    }),
    problems: [["KubeletNotRunning", "critical"]],
    message: [/no kubelet\.service unit found \(\/var\/lib\/kubelet exists\)/],
    remedy: [/No kubelet\.service unit was found/],
  },
  {
    name: "runs but healthz answers 500",
    observation: obs({ healthz: { url: "http://127.0.0.1:10248/healthz", outcome: "status", status: 500, body: "[-]syncloop failed" } }),
    problems: [["KubeletHealthzFailing", "critical"]],
    message: [/kubelet \(pid 4242\) runs but its health endpoint fails: http:\/\/127\.0\.0\.1:10248\/healthz answered HTTP 500 \("\[-\]syncloop failed"\)/],
    remedy: [/curl -sS 'http:\/\/127\.0\.0\.1:10248\/healthz\?verbose'/],
  },
  {
    name: "runs but healthz does not answer in time",
    observation: obs({ healthz: { url: "http://127.0.0.1:10248/healthz", outcome: "timeout", detail: "2000 ms" } }),
    problems: [["KubeletHealthzFailing", "critical"]],
    message: [/did not answer within 2000 ms/],
  },
  {
    name: "healthz disabled (healthzPort 0): nothing to fail",
    observation: obs({ healthz: { url: "", outcome: "disabled", detail: "kubelet's healthz is disabled (healthzPort 0)" } }),
    problems: [],
    message: [/kubelet's healthz is disabled \(healthzPort 0\)/],
  },
  {
    name: "three restarts in the window: a warning",
    observation: obs({ restarts: { count: 3, windowSeconds: 600 } }),
    problems: [["KubeletRestartingFrequently", "warning"]],
    message: [/kubelet restarted 3 times in the last 10 min \(now pid 4242\)/],
    evidence: { restarts: 3, windowSeconds: 600 },
  },
  {
    name: "six restarts in the window: critical",
    observation: obs({ restarts: { count: 6, windowSeconds: 600 } }),
    problems: [["KubeletRestartingFrequently", "critical"]],
  },
  {
    name: "two kubelet processes",
    observation: obs({ otherPids: [5151] }),
    problems: [["MultipleKubeletProcesses", "warning"]],
    message: [/2 kubelet processes run \(pids 4242, 5151\)/],
    remedy: [/ps -o pid,ppid,lstart,args -p 4242,5151/],
  },
  {
    name: "the node IP is on no interface",
    observation: obs({
      nodeIp: { wanted: ["10.0.0.7"], source: "--node-ip of kubelet pid 4242", present: ["192.168.1.5"], missing: ["10.0.0.7"], problems: [] },
    }),
    problems: [["NodeIPNotPresent", "critical"]],
    message: [/kubelet's node IP 10\.0\.0\.7 \(--node-ip of kubelet pid 4242\) is on none of the node's interfaces \(addresses present: 192\.168\.1\.5\)/],
    remedy: [/After=network-online\.target/, /systemctl daemon-reload && systemctl restart kubelet/],
  },
  {
    name: "no API server configured: registration unknown",
    observation: obs({ cluster: { state: "absent" } }),
    problems: [["KubeletRegistrationUnknown", "unknown"]],
    message: [/No API server is configured/],
  },
  {
    name: "the API server failed: registration unknown with its error",
    observation: obs({ cluster: { state: "error", error: "connect ECONNREFUSED 10.0.0.1:6443" } }),
    problems: [["KubeletRegistrationUnknown", "unknown"]],
    message: [/Could not read this node's Node and Lease from the API server: connect ECONNREFUSED 10\.0\.0\.1:6443\./],
  },
  {
    name: "the unregistered node: kubelet runs, no Node",
    observation: obs({ cluster: { state: "ok", nodeName: "n1", node: null, lease: null, atMs: NOW } }),
    problems: [["NodeNotRegistered", "critical"]],
    message: [/the API server has no Node named "n1"/],
    remedy: [/--require-kubeconfig/, /--hostname-override/],
  },
  {
    name: "no Lease: an old kubelet, a warning",
    observation: obs({ cluster: registered(undefined, null) }),
    problems: [["KubeletLeaseStale", "warning"]],
    message: [/has no Lease kube-node-lease\/n1/],
  },
  {
    name: "a Lease renewed 10 min ago (4 × 40 s is the limit): critical",
    observation: obs({ cluster: registered(undefined, lease("2026-03-01T11:50:00.000000Z")) }),
    problems: [["KubeletLeaseStale", "critical"]],
    message: [/kubelet last renewed Lease kube-node-lease\/n1 10 min ago/],
    evidence: { nodeName: "n1", leaseDurationSeconds: 40, ageSeconds: 600 },
  },
  {
    name: "a Lease renewed 150 s ago is within 4 × 40 s",
    observation: obs({ cluster: registered(undefined, lease("2026-03-01T11:57:30.000000Z")) }),
    problems: [],
  },
  {
    name: "a stale Lease of a kubelet known to be down says nothing more",
    observation: down({ cluster: registered(undefined, lease("2026-03-01T10:00:00.000000Z")) }),
    problems: [["KubeletNotRunning", "critical"]],
  },
  {
    name: "OutOfDisk left behind by an old kubelet, no heartbeat: stale, with the guarded patch",
    observation: obs({ cluster: registered({ metadata: { name: "n1" }, status: { conditions: [{ type: "OutOfDisk", status: "True" }] } }) }),
    problems: [["StaleNodeCondition", "warning"]],
    message: [/Node condition OutOfDisk=True has no heartbeat and no known owner updates it \(kubelet stopped maintaining OutOfDisk in 1\.13/],
    remedy: [/kubectl patch node n1 --subresource=status --type=json -p '.*"op":"test","path":"\/status\/conditions\/0\/type","value":"OutOfDisk"/],
  },
  {
    name: "a foreign condition heartbeating an hour and a half ago: stale",
    observation: obs({
      cluster: registered({
        metadata: { name: "n1" },
        status: { conditions: [{ type: "FrequentDockerRestart", status: "False", lastHeartbeatTime: "2026-03-01T10:30:00Z" }] },
      }),
    }),
    problems: [["StaleNodeCondition", "warning"]],
    message: [/last heartbeat 90 min ago \(2026-03-01T10:30:00Z\)/],
  },
  {
    name: "kubelet's own conditions never count as stale",
    observation: obs({
      cluster: registered({ metadata: { name: "n1" }, status: { conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: "2026-02-01T00:00:00Z" }] } }),
    }),
    problems: [],
  },
  {
    name: "node-problem-detector writes KubeletUnhealthy: a collision naming its plugin",
    observation: obs({
      cluster: registered({
        metadata: {
          name: "n1",
          managedFields: [managed("node-problem-detector", "KubeletUnhealthy", ["type", "status", "reason", "message", "lastHeartbeatTime"])],
        },
        status: { conditions: [{ type: "KubeletUnhealthy", status: "False", lastHeartbeatTime: "2026-03-01T11:55:00Z" }] },
      }),
    }),
    problems: [["NodeConditionCollision", "warning"]],
    message: [/NodeCondition KubeletUnhealthy on n1 was added by node-problem-detector, so node-doctor neither writes nor removes it/],
    remedy: [/drop health-checker-kubelet\.json from its --config\.custom-plugin-monitor/],
  },
];

describe("judgeKubelet", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const findings = judgeKubelet(row.observation, SETTINGS);
      const problems = findings.filter((f) => f.severity !== "ok");
      assert.deepEqual(
        problems.map((f) => [f.reason, f.severity]),
        row.problems,
      );
      for (const f of findings) {
        assert.equal(f.check, "kubelet");
        assert.equal(f.condition, "KubeletUnhealthy");
        if (f.severity === "critical" || f.severity === "warning") assert.ok(f.remedy, `${f.reason} needs a remedy`);
      }
      const first = problems[0] ?? findings[0];
      assert.ok(first, "at least one finding");
      if (row.problems.length === 0) assert.equal(findings.length, 1, JSON.stringify(findings.map((f) => f.reason)));
      for (const pattern of row.message ?? []) assert.match(first.message, pattern);
      for (const pattern of row.remedy ?? []) assert.match(first.remedy ?? "", pattern);
      for (const [key, value] of Object.entries(row.evidence ?? {})) assert.deepEqual(first.evidence?.[key], value, key);
    });
  }
});

describe("healthzUrlFor", () => {
  const setup = (args: string[], config?: string) => ({
    flags: parseKubeletFlags(args),
    configFiles: composeConfigFiles({
      ...(config !== undefined ? { file: parseYamlMapping("/var/lib/kubelet/config.yaml", config) } : {}),
      fileFromFlag: config !== undefined,
      dropIns: [],
    }),
  });
  const rows: Array<[string, string[], string | undefined, string | undefined]> = [
    ["kubelet's defaults", [], undefined, "http://127.0.0.1:10248/healthz"],
    ["the config's port and address", [], "healthzPort: 10300\nhealthzBindAddress: 10.0.0.7\n", "http://10.0.0.7:10300/healthz"],
    ["the flag over the config", ["--healthz-port=10400"], "healthzPort: 10300\n", "http://127.0.0.1:10400/healthz"],
    ["0.0.0.0 is asked on loopback", ["--healthz-bind-address=0.0.0.0"], undefined, "http://127.0.0.1:10248/healthz"],
    ["an IPv6 wildcard is asked on ::1", ["--healthz-bind-address=::"], undefined, "http://[::1]:10248/healthz"],
    ["port 0 turns healthz off", ["--healthz-port=0"], undefined, undefined],
    ["a port out of range falls back to the default", ["--healthz-port=70000"], undefined, "http://127.0.0.1:10248/healthz"],
  ];
  for (const [name, args, config, url] of rows) it(name, () => assert.equal(healthzUrlFor(setup(args, config)), url));
});

describe("countRestarts", () => {
  it("counts a new pid and systemd's NRestarts growth, and forgets restarts older than the window", () => {
    const memory = newKubeletMemory();
    const p = (pid: number) => ({ pid, startTimeMs: pid * 1000 });
    assert.equal(countRestarts(memory, 0, p(1), 0, 600), 0, "the first sighting is no restart");
    assert.equal(countRestarts(memory, 10_000, p(1), 0, 600), 0, "same process");
    assert.equal(countRestarts(memory, 20_000, p(2), 1, 600), 1, "a new pid and NRestarts 0 → 1 are one restart");
    assert.equal(countRestarts(memory, 30_000, p(3), 4, 600), 4, "NRestarts 1 → 4: systemd saw three, faster than the interval");
    assert.equal(countRestarts(memory, 40_000, undefined, undefined, 600), 4, "nothing seen is no restart");
    assert.equal(countRestarts(memory, 625_000, p(3), 4, 600), 3, "the restart at 20 s left the 600 s window");
    assert.equal(countRestarts(memory, 700_000, p(3), 4, 600), 0);
  });
});
