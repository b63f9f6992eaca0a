/**
 * Who owns a NodeCondition, read from the Node's managedFields.
 *
 * The API server records, for every field manager, the fields of an object it
 * set (metadata.managedFields, one entry per manager, operation and
 * subresource). One condition is a list element keyed by its type; its
 * identity field "." belongs to the manager that added the element, for as
 * long as the element exists. A manager that later changes some of its fields
 * (its status, its message) owns those fields only, and a write that changes
 * nothing takes nothing.
 *
 * node-doctor writes with its own field manager (FIELD_MANAGER) and decides:
 *
 * - ours: node-doctor added the condition; or nobody is recorded as adding it
 *   and no other manager holds any of its fields (an API server that does not
 *   track managed fields, a condition older than that tracking);
 * - foreign: another manager added it (node-problem-detector's
 *   KubeletUnhealthy from its health-checker-kubelet plugin); or nobody is
 *   recorded as adding it and other managers hold its fields while
 *   node-doctor holds none. A foreign condition is never written or removed.
 *
 * Other managers holding fields of a condition node-doctor added are listed
 * as `others` of an "ours" answer: someone changed it after us (a forged
 * status, a `kubectl patch`) or also writes it.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import { isRecord } from "../types.js";

/** The field manager of every write node-doctor makes (PATCH `?fieldManager=`); the User-Agent says the same. */
export const FIELD_MANAGER = "node-doctor";

/** One manager's hold on one condition. */
export interface FieldOwner {
  manager: string;
  /** "Update" (PATCH, PUT) or "Apply" (server-side apply). */
  operation: string;
  /** When the manager's entry last changed (RFC 3339), when the server says. */
  time?: string;
  /** The condition's fields it holds: "status", "reason", "message", ... */
  fields: string[];
  /** It added the condition (holds the element's "."). */
  added: boolean;
}

export interface ConditionOwnership {
  owner: "ours" | "foreign";
  /** Managers other than node-doctor that hold fields of the condition. */
  others: FieldOwner[];
}

/** The `type` a fieldsV1 key `k:{"type":"KubeletUnhealthy"}` names, or undefined. */
function keyedType(key: string): string | undefined {
  if (!key.startsWith("k:")) return undefined;
  try {
    const parsed: unknown = JSON.parse(key.slice(2));
    return isRecord(parsed) && typeof parsed["type"] === "string" ? parsed["type"] : undefined;
  } catch {
    return undefined;
  }
}

/** True when the Node carries managedFields at all (API servers since 1.18 always write them). */
export function tracksManagers(node: Node): boolean {
  const entries: unknown = node.metadata?.managedFields;
  return Array.isArray(entries) && entries.length > 0;
}

/**
 * Every manager holding fields of each condition type, from managedFields.
 * Entries of a shape other than metav1.ManagedFieldsEntry are skipped: the
 * answer is data from the API server, not trusted to be well formed.
 */
export function conditionOwners(node: Node): Map<string, FieldOwner[]> {
  const owners = new Map<string, FieldOwner[]>();
  const entries: unknown = node.metadata?.managedFields;
  if (!Array.isArray(entries)) return owners;
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry["manager"] !== "string") continue;
    const fields = entry["fieldsV1"];
    const status = isRecord(fields) ? fields["f:status"] : undefined;
    const conditions = isRecord(status) ? status["f:conditions"] : undefined;
    if (!isRecord(conditions)) continue;
    for (const [key, held] of Object.entries(conditions)) {
      const type = keyedType(key);
      if (type === undefined || !isRecord(held)) continue;
      const names = Object.keys(held);
      const owner: FieldOwner = {
        manager: entry["manager"],
        operation: typeof entry["operation"] === "string" ? entry["operation"] : "Update",
        ...(typeof entry["time"] === "string" ? { time: entry["time"] } : {}),
        fields: names.filter((n) => n.startsWith("f:")).map((n) => n.slice(2)),
        added: names.includes("."),
      };
      const list = owners.get(type) ?? [];
      list.push(owner);
      owners.set(type, list);
    }
  }
  return owners;
}

/** Decides one condition's owner from the managers holding its fields (see the file's comment). */
export function ownershipOf(holders: readonly FieldOwner[] | undefined, manager = FIELD_MANAGER): ConditionOwnership {
  const all = holders ?? [];
  const others = all.filter((h) => h.manager !== manager);
  const mine = all.filter((h) => h.manager === manager);
  if (mine.some((h) => h.added)) return { owner: "ours", others };
  if (others.some((h) => h.added)) return { owner: "foreign", others };
  return { owner: others.length > 0 && mine.length === 0 ? "foreign" : "ours", others };
}

/** "node-problem-detector (Update, 2026-11-24T12:00:00Z: status, reason)": who holds what, for logs and findings. */
export function describeOwners(owners: readonly FieldOwner[]): string {
  return owners.map((o) => `${o.manager} (${[o.operation, o.time].filter(Boolean).join(", ")}${o.fields.length ? `: ${o.fields.join(", ")}` : ""})`).join("; ");
}
