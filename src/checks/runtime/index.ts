/**
 * The container runtime, asked over CRI as kubelet asks it: is its socket
 * there, does it answer (Version), does it report RuntimeReady and
 * NetworkReady (Status), and how much does its image filesystem hold
 * (ImageFsInfo, shared with the disk check as ctx.facts.imageFs). When the
 * runtime's network is not ready, the CNI configuration is read to say why.
 *
 * Gather (gather.ts: socket, CRI calls, CNI files) then judge (judge.ts, pure). Every CRI call has
 * a deadline well inside the check's timeout, so a hung runtime is reported
 * as RuntimeUnresponsive rather than as a check that timed out.
 */
import { checkSettings } from "../../config/config.js";
import { absolutePath, list, number, optional, string, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import { DEFAULT_SYSTEM_BUS_SOCKET } from "../../node/systemd.js";
import type { Check } from "../../types.js";
import { askSystemd, closeRuntimeMemory, gatherRuntime, newRuntimeMemory, parseEndpoint } from "./gather.js";
import { judgeRuntime, type RuntimeObservation } from "./judge.js";
import { REASONS } from "./reasons.js";
import { defineCheck } from "../define.js";
import { runtimeMetrics } from "./metrics.js";

export const RUNTIME_REASONS = REASONS.names;

function endpointSyntax(value: string): string | undefined {
  const parsed = parseEndpoint(value);
  return "problem" in parsed ? parsed.problem : undefined;
}

export const runtimeSettings = checkSettings(
  { intervalSeconds: 30, timeoutSeconds: 10 },
  {
    /** The CRI endpoint ("unix:///run/containerd/containerd.sock"); by default kubelet's. */
    endpoint: optional(string({ check: endpointSyntax })),
    /** Deadline of each CRI call; a runtime slower than this is unresponsive. */
    requestTimeoutSeconds: withDefault(number({ min: 0.1, max: 60 }), 3),
    /** CNI config directory; by default containerd's conf_dir, else /etc/cni/net.d. */
    cniConfDir: optional(string({ check: absolutePath })),
    /** CNI plugin directories; by default containerd's bin_dir, else /opt/cni/bin. */
    cniBinDirs: optional(list(string({ check: absolutePath }), { maxItems: 16 })),
    /** The runtime's systemd unit; by default containerd.service, crio.service, cri-docker.service or k3s.service after the runtime. */
    unit: optional(string({ check: unitName })),
    /** The host's system bus, for the unit's state when the runtime does not answer. */
    dbusSocket: withDefault(string({ check: absolutePath }), DEFAULT_SYSTEM_BUS_SOCKET),
    dbusTimeoutSeconds: withDefault(number({ min: 0.1, max: 30 }), 1),
  },
);

function unitName(value: string): string | undefined {
  return /^[A-Za-z0-9:_.@-]+\.service$/.test(value) ? undefined : `must be a systemd service name like containerd.service, got ${JSON.stringify(value)}`;
}

export type RuntimeSettings = Infer<typeof runtimeSettings>;

export interface RuntimeCheckDeps {
  kubelet: KubeletLocator;
}

export function createRuntimeCheck(settings: RuntimeSettings, deps: RuntimeCheckDeps): Check {
  const timeoutMs = settings.timeoutSeconds * 1000;
  const memory = newRuntimeMemory();
  return {
    name: "runtime",
    conditions: ["ContainerRuntimeUnhealthy"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs,
    // Whether the runtime answers decides how the kubelet-config check words a config it cannot read; the disk check reads the image filesystem.
    writesFacts: true,
    async run(ctx) {
      const startedMs = ctx.clock.monotonic();
      let obs: RuntimeObservation;
      try {
        const kubelet = await deps.kubelet.locate(ctx.signal);
        obs = await gatherRuntime(ctx, settings, timeoutMs, kubelet, memory.connections, startedMs);
      } catch (error) {
        delete ctx.facts.runtime; // could not look: nobody knows whether it answers
        throw error;
      }
      // Single writer of this fact.
      ctx.facts.runtime = { endpoint: obs.endpoint.endpoint, answers: obs.conditions !== undefined, measuredAtMonotonicMs: ctx.clock.monotonic() };
      await askSystemd(ctx, settings, memory, obs, startedMs);
      if (obs.imageFs) {
        // Single writer of this fact; the disk check judges the filesystem it names.
        ctx.facts.imageFs = {
          mountpoint: obs.imageFs.mountpoint,
          usedBytes: obs.imageFs.usedBytes ?? 0,
          ...(obs.imageFs.inodesUsed !== undefined ? { inodesUsed: obs.imageFs.inodesUsed } : {}),
          measuredAtMonotonicMs: ctx.clock.monotonic(),
        };
      }
      return judgeRuntime(obs, ctx.cluster ? { nodeName: ctx.cluster.nodeName } : {});
    },
    async close() {
      closeRuntimeMemory(memory);
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const runtimeCheck = defineCheck({ settings: runtimeSettings, create: createRuntimeCheck, reasons: REASONS, metrics: runtimeMetrics });
