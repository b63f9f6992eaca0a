/**
 * Compatibility conditions: node-doctor's verdict in the vocabulary the node
 * repairers already read. Karpenter's node repair and EKS node auto repair act
 * only on the EKS node monitoring agent's condition types, with its polarity
 * (True = healthy; they repair on False held past a toleration counted from
 * lastTransitionTime). With `compat.conditions: eks` the conditions sink
 * writes those types, each derived from node-doctor's own conditions as the
 * table below says (docs/remediation.md shows it; a test keeps the two equal).
 *
 * A compatibility condition is False while any condition feeding it is True,
 * Unknown while none is True and one is Unknown, True otherwise. Its
 * lastTransitionTime moves only when that status does: a problem that goes
 * on under another reason (the runtime's socket missing, then not ready)
 * keeps the time the repairers count from.
 */
import {
  EKS_CONDITION_TYPES,
  HEALTHY_CONDITION,
  type BuiltinConditionType,
  type ConditionState,
  type ConditionStatus,
  type EksConditionType,
} from "../types.js";
import type { CompatMode } from "../config/config.js";

/**
 * Which of node-doctor's conditions feed each EKS type. A type with no feeder
 * among the enabled checks is not written. AcceleratedHardwareReady has none:
 * HardwareErrors mixes GPU errors with disk I/O errors and machine checks,
 * and the repairers replace a node 10 minutes after that type goes False; the
 * kernel's hardware errors feed KernelReady (30 minutes). kubelet's own trouble (KubeletUnhealthy,
 * KubeletCertificateInvalid) already shows as Ready False or Unknown, which
 * the repairers read; configuration and the clock are fixed by a person, and a
 * replacement node would start with the same configuration.
 */
export const EKS_FEEDERS: Readonly<Record<EksConditionType, readonly BuiltinConditionType[]>> = {
  KernelReady: ["KernelUnhealthy", "HardwareErrors"],
  ContainerRuntimeReady: ["ContainerRuntimeUnhealthy"],
  StorageReady: ["DiskSpaceLow", "FilesystemErrors"],
  NetworkingReady: ["NodeNetworkUnhealthy"],
  AcceleratedHardwareReady: [],
};

/** What the conditions sink writes for one type: ours as the engine holds it, or a compatibility one derived from ours. */
export interface WritableCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  remedy?: string;
  /** Wall-clock ms since this status holds. */
  sinceMs: number;
}

/** The EKS types node-doctor writes when `managed` (the types the enabled checks produce) holds at least one feeder of each. */
export function compatTypes(mode: CompatMode, managed: Iterable<string>): EksConditionType[] {
  if (mode === "none") return [];
  const have = new Set(managed);
  return EKS_CONDITION_TYPES.filter((type) => EKS_FEEDERS[type].some((feeder) => have.has(feeder)));
}

/**
 * Each compatibility condition from the engine's conditions. Feeders the
 * engine has no state for yet (their check has not run) are left out; a type
 * none of whose feeders has a state is not derived at all.
 */
export function deriveCompat(types: readonly EksConditionType[], states: readonly ConditionState[]): WritableCondition[] {
  const byType = new Map<string, ConditionState>(states.map((s) => [s.type, s]));
  const out: WritableCondition[] = [];
  for (const type of types) {
    const fed = EKS_FEEDERS[type].flatMap((feeder) => {
      const state = byType.get(feeder);
      return state ? [{ feeder, state }] : [];
    });
    const feeding = fed.map((f) => f.state);
    if (fed.length === 0) continue;
    const problem = feeding.filter((s) => s.status === "True");
    const unknown = feeding.filter((s) => s.status === "Unknown");
    // False from the feeders that are True, else Unknown from those that are Unknown: the first one's reason, the earliest's time.
    const worst =
      problem.length > 0 ? { status: "False" as const, from: problem } : unknown.length > 0 ? { status: "Unknown" as const, from: unknown } : undefined;
    if (worst) {
      const first = worst.from[0] as ConditionState;
      out.push({
        type,
        status: worst.status,
        reason: first.reason,
        message: `node-doctor: ${first.type}: ${first.message}`,
        ...(worst.status === "False" && first.remedy ? { remedy: first.remedy } : {}),
        sinceMs: Math.min(...worst.from.map((s) => s.sinceMs)),
      });
    } else {
      const healthy = HEALTHY_CONDITION[(fed[0] as { feeder: BuiltinConditionType }).feeder];
      out.push({
        type,
        status: "True",
        reason: healthy.reason,
        message: `node-doctor: ${healthy.message}`,
        sinceMs: Math.max(...feeding.map((s) => s.sinceMs)),
      });
    }
  }
  return out;
}
