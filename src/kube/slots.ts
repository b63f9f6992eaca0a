/**
 * The fleet's repair budget: at most N nodes (or N % of the nodes, rounded up
 * as a DaemonSet's maxUnavailable is) repair at once, each holding one Lease
 * of a fixed set — `node-doctor-repair-0` … `node-doctor-repair-<N-1>` in the
 * agent's namespace. A slot is taken by creating its Lease (409 AlreadyExists:
 * held) or by updating an expired one at the resourceVersion it was read at
 * (409 Conflict: someone else took it first), so two nodes never hold one
 * slot and never more than N are held; the API server is the referee. No API
 * server, no slot, no repair. A repairing node renews its Lease (a third of
 * leaseDurationSeconds at a time); one that crashed while repairing frees
 * its slot when the Lease expires.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node } from "kubernetes-types/core/v1.js";
import type { Clock } from "../types.js";
import { ApiError } from "./transport.js";

export const SLOT_PREFIX = "node-doctor-repair-";
/** The label every slot Lease carries, so the holder can list them all at once. */
export const SLOT_LABEL = "node-doctor.io/repair-slot";

/** What the slots need from the API client (KubeClient satisfies it). */
export interface SlotApi {
  listLeases(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Lease[]>;
  createLease(namespace: string, lease: Lease, signal?: AbortSignal): Promise<Lease>;
  updateLease(namespace: string, lease: Lease & { metadata: { name: string } }, signal?: AbortSignal): Promise<Lease>;
  deleteLease(namespace: string, name: string, resourceVersion: string | undefined, signal?: AbortSignal): Promise<void>;
  listNodes(
    options: { limit?: number; continueToken?: string },
    signal?: AbortSignal,
  ): Promise<{ items: Node[]; continueToken?: string; remainingItemCount?: number }>;
}

export interface RepairBudget {
  /** At most this many nodes at once. */
  maxNodes?: number;
  /** At most this % of the cluster's nodes at once, rounded up. */
  maxPercent?: number;
}

export interface HeldSlot {
  name: string;
  lease: Lease & { metadata: { name: string } };
}

export type SlotAnswer = { slot: HeldSlot } | { slot?: undefined; why: string };

export interface RepairSlotsOptions {
  api: SlotApi;
  namespace: string;
  /** The holder's identity: the node's name. */
  holder: string;
  budget: RepairBudget;
  /** A slot not renewed for this long is free again (a node that died repairing). */
  leaseDurationSeconds: number;
  clock: Clock;
  random?: () => number;
}

/** RFC 3339 with microseconds, as metav1.MicroTime is written. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

function isExpired(lease: Lease, nowMs: number): boolean {
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? "");
  const duration = lease.spec?.leaseDurationSeconds;
  // A Lease with no holder, or no time or duration to judge it by, holds nothing.
  if (!lease.spec?.holderIdentity || !Number.isFinite(renewed) || typeof duration !== "number") return true;
  return nowMs > renewed + duration * 1000;
}

function isConflict(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409;
}

/** How many nodes may repair at once given the cluster's size. */
export function slotCount(budget: RepairBudget, nodes: number | undefined): number {
  const limits: number[] = [];
  if (budget.maxNodes !== undefined) limits.push(budget.maxNodes);
  if (budget.maxPercent !== undefined && nodes !== undefined) limits.push(Math.ceil((budget.maxPercent * nodes) / 100));
  return limits.length === 0 ? 0 : Math.max(0, Math.min(...limits));
}

export class RepairSlots {
  private readonly random: () => number;

  constructor(private readonly options: RepairSlotsOptions) {
    this.random = options.random ?? Math.random;
  }

  /** The cluster's node count: one Node and the API server's remainingItemCount, else (no count given) every page. */
  private async nodeCount(signal?: AbortSignal): Promise<number> {
    const first = await this.options.api.listNodes({ limit: 1 }, signal);
    if (!first.continueToken) return first.items.length;
    if (first.remainingItemCount !== undefined) return first.items.length + first.remainingItemCount;
    let count = 0;
    let continueToken: string | undefined;
    do {
      const page = await this.options.api.listNodes({ limit: 500, ...(continueToken ? { continueToken } : {}) }, signal);
      count += page.items.length;
      continueToken = page.continueToken;
    } while (continueToken);
    return count;
  }

  private leaseFor(name: string, nowMs: number, previous?: Lease): Lease & { metadata: { name: string } } {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        ...(previous?.metadata ?? {}),
        name,
        namespace: this.options.namespace,
        labels: { ...(previous?.metadata?.labels ?? {}), [SLOT_LABEL]: "true", "app.kubernetes.io/managed-by": "node-doctor" },
      },
      spec: {
        holderIdentity: this.options.holder,
        leaseDurationSeconds: this.options.leaseDurationSeconds,
        acquireTime: microTime(nowMs),
        renewTime: microTime(nowMs),
        leaseTransitions: (previous?.spec?.leaseTransitions ?? 0) + (previous ? 1 : 0),
      },
    };
  }

  /**
   * Takes a free slot, or says why there is none. Throws when the API server
   * cannot be asked: the caller does not repair then either.
   */
  async acquire(signal?: AbortSignal): Promise<SlotAnswer> {
    const { api, namespace, holder, budget, clock } = this.options;
    const count = slotCount(budget, budget.maxPercent !== undefined ? await this.nodeCount(signal) : undefined);
    if (count === 0) return { why: "the repair budget allows no node to repair at once" };
    const leases = await api.listLeases(namespace, `${SLOT_LABEL}=true`, signal);
    const nowMs = clock.now();
    const live = leases.filter((l) => !isExpired(l, nowMs));
    const mine = live.find((l) => l.spec?.holderIdentity === holder);
    if (mine?.metadata?.name) return { slot: { name: mine.metadata.name, lease: { ...mine, metadata: { ...mine.metadata, name: mine.metadata.name } } } };
    // Slots above the budget (it shrank) still count while held.
    if (live.length >= count) return { why: `${live.length} of ${count} repair slots are held (${describeHolders(live)})` };
    const byName = new Map(leases.map((l) => [l.metadata?.name ?? "", l]));
    const start = Math.floor(this.random() * count);
    for (let k = 0; k < count; k++) {
      const name = `${SLOT_PREFIX}${(start + k) % count}`;
      const existing = byName.get(name);
      try {
        if (!existing) {
          const created = await api.createLease(namespace, this.leaseFor(name, nowMs), signal);
          return { slot: { name, lease: { ...created, metadata: { ...created.metadata, name } } } };
        }
        if (!isExpired(existing, nowMs)) continue;
        const taken = await api.updateLease(namespace, this.leaseFor(name, nowMs, existing), signal);
        return { slot: { name, lease: { ...taken, metadata: { ...taken.metadata, name } } } };
      } catch (error) {
        if (isConflict(error)) continue; // another node took it between our read and our write
        throw error;
      }
    }
    return { why: `every one of the ${count} repair slots was taken by another node meanwhile` };
  }

  /**
   * Renews a held slot (its renewTime, at the resourceVersion it was last
   * written at), so a repair longer than leaseDurationSeconds keeps it.
   * Undefined when the slot is no longer this node's: it expired and another
   * node took it (409), or it was deleted (404). Throws when the API server
   * cannot be asked.
   */
  async renew(slot: HeldSlot, signal?: AbortSignal): Promise<HeldSlot | undefined> {
    const lease = { ...slot.lease, spec: { ...slot.lease.spec, renewTime: microTime(this.options.clock.now()) } };
    try {
      const renewed = await this.options.api.updateLease(this.options.namespace, lease, signal);
      return { name: slot.name, lease: { ...renewed, metadata: { ...renewed.metadata, name: slot.name } } };
    } catch (error) {
      if (isConflict(error) || (error instanceof ApiError && error.status === 404)) return undefined;
      throw error;
    }
  }

  /** Gives the slot back; one someone else took after it expired is theirs (409), not an error. */
  async release(slot: HeldSlot, signal?: AbortSignal): Promise<void> {
    try {
      await this.options.api.deleteLease(this.options.namespace, slot.name, slot.lease.metadata.resourceVersion, signal);
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
}

function describeHolders(leases: readonly Lease[]): string {
  const names = leases.map((l) => l.spec?.holderIdentity ?? "?");
  return names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
}
