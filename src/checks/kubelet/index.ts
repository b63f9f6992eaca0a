/**
 * Is kubelet alive, will it come back after a reboot, and does the cluster
 * hear from it? Condition `KubeletUnhealthy`.
 *
 * Gather (gather.ts: host /proc, the unit tree, systemd over D-Bus, kubelet's
 * healthz, the node's addresses, the Node and its Lease through the API) then
 * judge (judge.ts, pure). The hot path spawns nothing: the D-Bus connection stays open and
 * the API is read at most once per `clusterIntervalSeconds`.
 *
 * Timing: kubelet dies → the next run (≤ intervalSeconds) sees no process →
 * the engine's damping accepts it on the run after → the condition is True
 * about 2 × 10 s after the death, inside the 30 s the chart promises.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, number, optional, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { DEFAULT_SYSTEM_BUS_SOCKET } from "../../node/systemd.js";
import type { Check } from "../../types.js";
import { closeKubeletMemory, gatherKubelet, newKubeletMemory } from "./gather.js";
import { judgeKubelet } from "./judge.js";
import { REASONS } from "./reasons.js";
import { defineCheck } from "../define.js";

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

export type KubeletSettings = Infer<typeof kubeletSettings>;

export interface KubeletCheckDeps {
  kubelet: KubeletLocator;
}

export function createKubeletCheck(settings: KubeletSettings, deps: KubeletCheckDeps): Check {
  const memory = newKubeletMemory();
  return {
    name: "kubelet",
    conditions: ["KubeletUnhealthy"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    async run(ctx) {
      const findings = judgeKubelet(await gatherKubelet(ctx, settings, deps.kubelet, memory), settings);
      if (findings[0]?.reason === KUBELET_REASONS.NotAKubernetesNode) {
        if (!memory.saidNotANode) ctx.log.info({}, "no kubelet on this host: kubelet checks report NotAKubernetesNode");
        memory.saidNotANode = true;
      }
      return findings;
    },
    async close() {
      closeKubeletMemory(memory);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const kubeletCheck = defineCheck({ settings: kubeletSettings, create: createKubeletCheck, reasons: REASONS });
