/**
 * `npm run bench -- kubelet-config`: what a kubelet-config run costs — on a
 * healthy kubeadm node (flags from /proc, a dpkg status as large as this
 * machine's), on a node whose kubelet crash-loops (flags rebuilt from the
 * systemd unit), and with the kubelet unit edited but not applied (both
 * command lines judged). First run and steady state.
 */
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createKubeletConfigCheck, kubeletConfigSettings } from "../src/checks/kubelet-config/index.js";
import { systemClock } from "../src/time/clock.js";
import { KubeletLocator } from "../src/node/kubelet/locator.js";
import { RootedHost } from "../src/node/host.js";
import { checkContext } from "../test/support/check-context.js";
import { fixtureRoot } from "../test/support/fixture-root.js";

async function timeRuns(run: () => Promise<unknown>, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await run();
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}

async function measure(name: string, prepare?: (root: string) => Promise<void>): Promise<string> {
  const fixture = await fixtureRoot(name);
  try {
    // A real package database: this machine's, with the kubelet paragraph kept.
    const own = await readFile("/var/lib/dpkg/status", "utf8").catch(() => "");
    await appendFile(join(fixture.root, "var/lib/dpkg/status"), "\n" + own);
    await prepare?.(fixture.root);
    const check = createKubeletConfigCheck(kubeletConfigSettings.parse({}, "checks.kubelet-config"), {
      kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock, 0),
    });
    const runOnce = () => check.run(checkContext(fixture.root));
    const first = await timeRuns(runOnce, 1);
    const steady = await timeRuns(runOnce, 200);
    const findings = await runOnce();
    return `first run ${first.toFixed(2)} ms, steady ${steady.toFixed(3)} ms/run, ${findings.length} findings (${findings.map((f) => f.reason).join(", ")}); dpkg status ${(own.length / 1024 / 1024).toFixed(1)} MiB`;
  } finally {
    await fixture.cleanup();
  }
}

export async function run(): Promise<void> {
  process.stdout.write(`healthy kubeadm node: ${await measure("kubelet-config-healthy")}\n`);
  process.stdout.write(`crash-looping kubelet, flags from its unit: ${await measure("refused-flags-crashloop")}\n`);
  const pending = await measure("refused-flags-crashloop", async (root) => {
    const argv = [
      "/usr/bin/kubelet",
      "--kubeconfig=/etc/kubernetes/kubelet.conf",
      "--config=/var/lib/kubelet/config.yaml",
      "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
    ];
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(root, "proc/5120"), { recursive: true });
    await writeFile(join(root, "proc/5120/comm"), "kubelet\n");
    await writeFile(join(root, "proc/5120/cmdline"), argv.join("\0") + "\0");
  });
  process.stdout.write(`running kubelet, unit edited but not applied: ${pending}\n`);
}
