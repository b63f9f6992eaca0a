/**
 * Active kernel signatures into findings. Pure. Beyond the catalogue's
 * templates it names who an OOM kill hit (pod UID and container ID from
 * task_memcg), tells a pod's own pids limit (warning) from a node-level
 * cgroup's (critical), and says so when a stuck network device coincides
 * with the runtime check finding the runtime unhealthy.
 */
import { cgroupOwner } from "../../node/cgroup-path.js";
import type { ActiveSignature } from "../../node/logs/matcher.js";
import { renderActive } from "../../node/logs/render.js";
import type { Finding } from "../../types.js";
import type { OomKill, OomSnapshot } from "./gather.js";

export interface KernelJudgeContext {
  oom: OomSnapshot;
  /** Non-ok findings of the runtime check (ContainerRuntimeUnhealthy), for the stuck-netdevice cross-check. */
  runtimeFindings: readonly Finding[];
}

function latestKill(oom: OomSnapshot, kind: OomKill["kind"]): OomKill | undefined {
  for (let i = oom.recent.length - 1; i >= 0; i--) if (oom.recent[i]?.kind === kind) return oom.recent[i];
  return undefined;
}

export function judgeKernel(actives: readonly ActiveSignature[], context: KernelJudgeContext, checkName = "kernel"): Finding[] {
  const findings: Finding[] = [];
  for (const original of actives) {
    let active = original;
    let severity = active.severity;
    const { signature } = active;
    const extra: Record<string, unknown> = {};

    if (signature.id === "oom-memcg" || signature.id === "oom-global") {
      const kill = latestKill(context.oom, signature.id === "oom-memcg" ? "memcg" : "global");
      if (kill && kill.pid === active.captures["pid"]) {
        active = {
          ...active,
          captures: {
            ...active.captures,
            ...(kill.podUid ? { pod: kill.podUid } : {}),
            ...(kill.containerId ? { container: kill.containerId.slice(0, 13) } : {}),
          },
        };
        if (kill.memcg) extra["memcg"] = kill.memcg;
        if (kill.podUid) extra["podUid"] = kill.podUid;
        if (kill.containerId) extra["containerId"] = kill.containerId;
      }
      extra["oomKills"] = context.oom.kills;
    }

    if (signature.id === "pids-fork-rejected") {
      const owner = cgroupOwner(active.captures["cgroup"] ?? "");
      if (owner.podUid) {
        active = { ...active, captures: { ...active.captures, pod: owner.podUid } };
        extra["podUid"] = owner.podUid;
      } else {
        // kubepods itself, a QoS slice or a system slice: every pod or service under it is refused.
        severity = "critical";
      }
    }

    const rendered = renderActive(active);
    let { message } = rendered;

    if (signature.id === "unregister-netdevice" && context.runtimeFindings.length > 0) {
      const runtime = context.runtimeFindings[0] as Finding;
      message += ` The runtime check finds the container runtime unhealthy too (${runtime.reason}): pod sandboxes waiting on this device are the likely cause.`;
      extra["runtimeReason"] = runtime.reason;
    }

    findings.push({
      check: checkName,
      condition: signature.condition,
      severity,
      reason: signature.reason,
      message,
      remedy: rendered.remedy,
      evidence: { ...rendered.evidence, ...extra },
    });
  }
  return findings;
}
