/**
 * kubelet's log as a flood for the benches: a realistic mix of lines
 * (cAdvisor noise, probes, volume and pod-sync chatter, 1 in 500 a PLEG
 * signature) and a real journal to write them into, through
 * systemd-journal-remote (the agent then follows it with journalctl as on
 * a node).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

export const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";

function klogStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000`;
}

/** The mix: mostly ordinary and noise lines, 1 in 500 a signature line. */
export function kubeletLine(i: number, ms: number): string {
  const t = klogStamp(ms);
  switch (i % 10) {
    case 0:
      return `E${t}    2211 summary_sys_containers.go:47] "Failed to get system container stats" err="failed to get cgroup stats for \\"/system.slice/docker.service\\": unknown container" containerName="/system.slice/docker.service"`;
    case 1:
      return `I${t}    2211 prober.go:107] "Probe failed" probeType="Readiness" pod="default/web-${i}" probeResult="failure" output="Get \\"http://10.244.1.5:8080/healthz\\": dial tcp 10.244.1.5:8080: connect: connection refused"`;
    case 2:
      if (i % 500 === 2)
        return `E${t}    2211 kubelet.go:1870] "Skipping pod synchronization" err="PLEG is not healthy: pleg was last seen active 3m0.4s ago; threshold is 3m0s"`;
      return `I${t}    2211 reconciler_common.go:258] "operationExecutor.VerifyControllerAttachedVolume started for volume \\"kube-api-access-${i}\\"" pod="default/app-${i}"`;
    case 3:
      return `E${t}    2211 pod_workers.go:1294] "Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"app\\" with CrashLoopBackOff: \\"back-off 5m0s restarting failed container\\"" pod="default/app-${i}"`;
    case 4:
      return `W${t}    2211 manager.go:1159] Housekeeping took longer than expected`;
    default:
      return `I${t}    2211 kubelet.go:2430] "SyncLoop (PLEG): event for pod" pod="default/app-${i}" event={"ID":"1a2b","Type":"ContainerStarted","Data":"4c1a2b${i}"}`;
  }
}

/** Lines the agent counted (node_doctor_log_lines_total), from one source or all, in a /metrics text. */
export function logLinesCounted(metrics: string, source?: "journal" | "file"): number {
  let total = 0;
  for (const match of metrics.matchAll(/^node_doctor_log_lines_total\{([^}]*)\} (\S+)$/gm)) {
    if (source === undefined || (match[1] ?? "").includes(`source="${source}"`)) total += Number(match[2]);
  }
  return total;
}

export interface JournalWriter {
  /** Appends kubelet.service entries, resolved once systemd-journal-remote has taken them. */
  write(messages: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

/** A journal under <root>/var/log/journal written by systemd-journal-remote, seeded with one entry; `fields` are each entry's (kubelet.service's by default). */
export async function startJournalWriter(
  root: string,
  fields: Readonly<Record<string, string>> = { _SYSTEMD_UNIT: "kubelet.service", _PID: "2211" },
  seed = "I0101 00:00:00.000000 1 start.go:1] start",
): Promise<JournalWriter> {
  if (!existsSync(JOURNAL_REMOTE))
    throw new Error(`${JOURNAL_REMOTE} is missing: install the Debian package systemd-journal-remote (scripts/test-setup.sh does)`);
  const journalDir = join(root, "var/log/journal/5c0f6a2b9d8e4f7a8b1c2d3e4f5a6b7c");
  await mkdir(journalDir, { recursive: true });
  const writer: ChildProcess = spawn(JOURNAL_REMOTE, ["-o", join(journalDir, "system.journal"), "-"], { stdio: ["pipe", "ignore", "ignore"] });
  let seq = 0;
  const own = Object.entries(fields)
    .map(([k, v]) => `${k}=${v}\n`)
    .join("");
  const entry = (message: string) =>
    `__REALTIME_TIMESTAMP=${Date.now() * 1000}\n__MONOTONIC_TIMESTAMP=${++seq}\n_BOOT_ID=0f1e2d3c4b5a69788796a5b4c3d2e1f0\n${own}MESSAGE=${message}\n\n`;
  const write = (messages: readonly string[]) => new Promise<void>((resolve) => writer.stdin?.write(messages.map(entry).join(""), () => resolve()));
  await write([seed]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return {
    write,
    stop: () =>
      new Promise<void>((resolve) => {
        if (writer.exitCode !== null || writer.signalCode !== null) return resolve();
        writer.once("exit", () => resolve());
        writer.stdin?.end();
        setTimeout(() => writer.kill("SIGKILL"), 6000).unref();
      }),
  };
}
