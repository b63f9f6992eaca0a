/**
 * A deterministic fleet of Nodes in mixed states, as the API server would
 * hold them after node-doctor ran on each: healthy, each condition True, an
 * Unknown, an agent gone silent, and nodes never covered.
 */
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { CONDITION_TYPES, HEALTHY_CONDITION, type ConditionType } from "../../src/types.js";

export const FLEET_NOW_MS = Date.parse("2026-11-25T12:00:00Z");

const PROBLEMS: Record<ConditionType, { reason: string; message: string }> = {
  KubeletUnhealthy: { reason: "KubeletNotRunning", message: "No kubelet process in /proc; kubelet.service is inactive (dead)." },
  KubeletConfigInvalid: { reason: "KubeconfigIgnored", message: "kubelet v1.7.2 ignores --kubeconfig without --require-kubeconfig." },
  KubeletCertificateInvalid: {
    reason: "ClientCertificateNotYetValid",
    message: "kubelet-client-current.pem is valid from 2026-11-25T15:00:00Z, 3h from now.",
  },
  ClockSkewed: { reason: "ApiServerOffsetHigh", message: "The clock is 3 h 0 min behind the API server's." },
  DiskSpaceLow: { reason: "NodeFsAvailableLow", message: "/var/lib/kubelet has 4% free, below nodefs.available<10%." },
  ContainerRuntimeUnhealthy: { reason: "NetworkNotReady", message: "containerd reports NetworkReady=false: cni plugin not initialized." },
  NodeNetworkUnhealthy: { reason: "IpForwardingDisabled", message: "net.ipv4.ip_forward is 0: the node does not forward IPv4 packets." },
  KernelUnhealthy: {
    reason: "NodeOutOfMemory",
    message: "The node ran out of memory: the kernel's OOM killer killed java (pid 4242) (3 system OOM kills in 30 min).",
  },
  FilesystemErrors: { reason: "Ext4Error", message: "ext4 reported an error on nvme1n1 in ext4_lookup: deleted inode referenced: 1311 (1 in 1 h)." },
  HardwareErrors: {
    reason: "GpuFallenOffBus",
    message: "GPU 0000:3b:00.0 has fallen off the bus (Xid 79): NVIDIA's catalogue says reboot the node (RESTART_BM).",
  },
  NodeResourceExhausted: {
    reason: "ConntrackTableFull",
    message: "The conntrack table holds 262000 of 262144 entries (99.9%, net.netfilter.nf_conntrack_max).",
  },
};

export type FleetNodeKind = "healthy" | ConditionType | "unknown" | "silent" | "uncovered";
export const FLEET_KINDS: readonly FleetNodeKind[] = ["healthy", ...CONDITION_TYPES, "unknown", "silent", "uncovered"];

function kubeletConditions(at: string): NodeCondition[] {
  return [
    { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", lastHeartbeatTime: at, lastTransitionTime: at },
    { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: at, lastTransitionTime: at },
  ];
}

export function fleetNode(name: string, kind: FleetNodeKind, nowMs = FLEET_NOW_MS): Node {
  const at = new Date(nowMs - 120_000).toISOString();
  const transition = new Date(nowMs - 3_600_000).toISOString();
  const heartbeat = kind === "silent" ? new Date(nowMs - 4 * 3_600_000).toISOString() : at;
  const ours: NodeCondition[] =
    kind === "uncovered"
      ? []
      : CONDITION_TYPES.map((type) => {
          const problem = kind === type;
          const unknown = kind === "unknown" && type === "ClockSkewed";
          const base = problem ? PROBLEMS[type] : unknown ? { reason: "CheckTimedOut", message: "clock check timed out after 5s." } : HEALTHY_CONDITION[type];
          return {
            type,
            status: problem ? "True" : unknown ? "Unknown" : "False",
            reason: base.reason,
            message: base.message,
            lastHeartbeatTime: heartbeat,
            lastTransitionTime: transition,
          };
        });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, pool: kind === "healthy" ? "general" : "edge" } },
    status: { conditions: [...kubeletConditions(at), ...ours] },
  };
}

/** How many of makeFleet(n)'s nodes are of each kind: tests derive their totals from it, so a new condition type changes no expectation by hand. */
export function fleetKindCounts(n: number): Record<FleetNodeKind, number> {
  const counts = Object.fromEntries(FLEET_KINDS.map((k) => [k, 0])) as Record<FleetNodeKind, number>;
  for (let i = 0; i < n; i++) counts[FLEET_KINDS[i % FLEET_KINDS.length] as FleetNodeKind]++;
  return counts;
}

/** n nodes cycling through every kind, named node-0001 … */
export function makeFleet(n: number, nowMs = FLEET_NOW_MS): Node[] {
  return Array.from({ length: n }, (_, i) => fleetNode(`node-${String(i + 1).padStart(4, "0")}`, FLEET_KINDS[i % FLEET_KINDS.length] ?? "healthy", nowMs));
}
