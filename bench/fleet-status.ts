/**
 * `npm run bench -- fleet-status`: `kubectl node-doctor status` over a fleet of
 * 5,000 nodes (mixed states) on the fake API server. Prints wall time and peak
 * RSS of the plugin process for table and JSON output. Targets: < 3 s, < 150 MiB.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeApiServer } from "../test/support/fake-apiserver.js";
import { makeFleet } from "../test/support/fleet-nodes.js";

const PLUGIN = new URL("../dist/kubectl-node_doctor.mjs", import.meta.url).pathname;

async function peakRssKiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function measure(args: string[], env: Record<string, string>): Promise<{ ms: number; peakMiB: number; bytes: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [PLUGIN, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
  let bytes = 0;
  child.stdout.on("data", (d: Buffer) => (bytes += d.length));
  let peak = 0;
  const poll = async () => {
    while (child.exitCode === null) {
      peak = Math.max(peak, (await peakRssKiB(child.pid ?? 0)) ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const polling = poll();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  await polling;
  if (code !== 0) throw new Error(`kubectl-node_doctor ${args.join(" ")} exited ${code}`);
  return { ms: performance.now() - started, peakMiB: peak / 1024, bytes };
}

export async function run(): Promise<void> {
  const api = await FakeApiServer.start();
  const dir = await mkdtemp(join(tmpdir(), "nd-bench-fleet-"));
  try {
    const nodes = makeFleet(5000, Date.now());
    for (const node of nodes) api.seedNode(node.metadata?.name ?? "", { labels: node.metadata?.labels ?? {}, conditions: node.status?.conditions ?? [] });
    const env = { PATH: process.env["PATH"] ?? "", KUBECONFIG: await api.writeKubeconfig(dir), HOME: dir };
    process.stdout.write(`fleet of ${nodes.length} nodes on the fake API server (pages of 500)\n`);
    for (const args of [["status"], ["status", "-o", "json"], ["status", "-o", "wide"]]) {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await measure(args, env));
      const best = runs.reduce((a, b) => (a.ms < b.ms ? a : b));
      const peak = Math.max(...runs.map((r) => r.peakMiB));
      process.stdout.write(
        `  ${args.join(" ").padEnd(18)} wall ${best.ms.toFixed(0)} ms (best of 3)   peak RSS ${peak.toFixed(1)} MiB   output ${(best.bytes / 1024).toFixed(0)} KiB\n`,
      );
    }
  } finally {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}
