/**
 * The node repairers' decisions, re-implemented small from their sources, to
 * read what node-doctor writes as they would:
 *
 * - Karpenter's node repair (kubernetes-sigs/karpenter,
 *   pkg/controllers/node/health/controller.go) with the AWS provider's repair
 *   policies (aws/karpenter-provider-aws, pkg/cloudprovider/cloudprovider.go
 *   RepairPolicies): a Node is repaired when a condition of a listed type has
 *   the listed status and now ≥ its lastTransitionTime + the toleration, unless
 *   more than 20 % of the pool's nodes (rounded up) match a policy at all.
 * - medik8s Node Healthcheck (NodeHealthCheck spec.unhealthyConditions):
 *   a Node is unhealthy when a condition has a listed type and status for at
 *   least the duration; remediation waits while fewer than minHealthy of the
 *   selected nodes are healthy.
 */
import type { Node } from "kubernetes-types/core/v1.js";

const MIN = 60_000;

/** Karpenter's AWS RepairPolicies: kubelet's Ready and the EKS node monitoring agent's types, with their tolerations. */
export const KARPENTER_AWS_POLICIES: ReadonlyArray<{ type: string; status: string; tolerationMs: number }> = [
  { type: "Ready", status: "False", tolerationMs: 30 * MIN },
  { type: "Ready", status: "Unknown", tolerationMs: 30 * MIN },
  { type: "AcceleratedHardwareReady", status: "False", tolerationMs: 10 * MIN },
  { type: "StorageReady", status: "False", tolerationMs: 30 * MIN },
  { type: "NetworkingReady", status: "False", tolerationMs: 30 * MIN },
  { type: "KernelReady", status: "False", tolerationMs: 30 * MIN },
  { type: "ContainerRuntimeReady", status: "False", tolerationMs: 30 * MIN },
];

export type KarpenterDecision = { repair: true; condition: string } | { repair: false; why: "healthy" | "tolerating" | "breaker" };

/** Karpenter's reconcile of one Node of `pool` at `nowMs`. */
export function karpenterDecides(node: Node, pool: readonly Node[], nowMs: number): KarpenterDecision {
  const conditions = node.status?.conditions ?? [];
  let earliest: { type: string; at: number } | undefined;
  for (const policy of KARPENTER_AWS_POLICIES) {
    const c = conditions.find((x) => x.type === policy.type);
    if (!c || c.status !== policy.status) continue;
    const at = Date.parse(c.lastTransitionTime ?? "") + policy.tolerationMs;
    if (!earliest || at < earliest.at) earliest = { type: c.type, at };
  }
  if (!earliest) return { repair: false, why: "healthy" };
  if (nowMs < earliest.at) return { repair: false, why: "tolerating" };
  const unhealthy = pool.filter((n) =>
    KARPENTER_AWS_POLICIES.some((p) => (n.status?.conditions ?? []).some((c) => c.type === p.type && c.status === p.status)),
  ).length;
  // intstr.GetScaledValueFromIntOrPercent("20%", len, roundUp=true)
  if (unhealthy > Math.ceil((20 * pool.length) / 100)) return { repair: false, why: "breaker" };
  return { repair: true, condition: earliest.type };
}

export interface NhcSpec {
  minHealthy?: string | number;
  unhealthyConditions: ReadonlyArray<{ type: string; status: string; duration: string }>;
}

/** "300s", "5m", "1h30m" (Go's time.ParseDuration, the units NHC's durations use) in ms. */
export function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unit[p[2] as string] as number), 0);
}

/** NHC: is the Node unhealthy, and may it be remediated with `selected` the nodes its selector picks. */
export function nhcDecides(spec: NhcSpec, node: Node, selected: readonly Node[], nowMs: number): { unhealthy: boolean; remediate: boolean } {
  const unhealthyNode = (n: Node) =>
    spec.unhealthyConditions.some((u) =>
      (n.status?.conditions ?? []).some(
        (c) => c.type === u.type && c.status === u.status && nowMs >= Date.parse(c.lastTransitionTime ?? "") + goDurationMs(u.duration),
      ),
    );
  const unhealthy = unhealthyNode(node);
  const healthy = selected.filter((n) => !unhealthyNode(n)).length;
  const min = spec.minHealthy ?? "51%";
  const minCount = typeof min === "number" ? min : Math.ceil((Number(min.replace("%", "")) * selected.length) / 100);
  return { unhealthy, remediate: unhealthy && healthy >= minCount };
}
