/**
 * The bundled agent on a fixture node, measured from outside as a user would:
 * time to first complete diagnosis, resident memory after warm-up (and its
 * slope), CPU millicores at default intervals, and /metrics latency at a
 * steady 50 requests/s. prometheus-node-exporter runs beside it for the
 * comparison a user would make.
 *
 *   npm run bench -- agent [--seconds=N] [--flags="--lite-mode ..."]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fillBytes, fixtureRoot } from "../test/support/fixture-root.js";
import { requireTool } from "../test/support/tools.js";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { cpuTicks, CLOCK_TICKS, floorLatency, freePort, load, option, percentile, rssKiB, slopePerMin, startBundledAgent, stop } from "./support.js";

async function measureProcess(name: string, pid: number, metricsUrl: string, seconds: number) {
  const samples: Array<[number, number]> = [];
  const t0 = performance.now();
  const cpu0 = await cpuTicks(pid);
  while (performance.now() - t0 < seconds * 1000) {
    samples.push([(performance.now() - t0) / 1000, await rssKiB(pid)]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const cpuSeconds = ((await cpuTicks(pid)) - cpu0) / CLOCK_TICKS;
  const elapsed = (performance.now() - t0) / 1000;
  const latencies = await load(metricsUrl, 50, 20);
  const rss = samples.map(([, kib]) => kib);
  return {
    name,
    rssMiB: rss[rss.length - 1]! / 1024,
    rssMaxMiB: Math.max(...rss) / 1024,
    slopeKiBPerMin: slopePerMin(samples),
    millicores: (cpuSeconds / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
  };
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(option(args, "seconds", "60"));
  const flags = option(args, "flags", AGENT_NODE_FLAGS.join(" ")).split(" ").filter(Boolean);
  const exporterPath = requireTool("prometheus-node-exporter");

  // A fixture node with a kubelet filesystem at 12% free: one warning, all checks on.
  const fixture = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
  const kubeletDir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "8m", inodes: 1000 });
  await fixture.writeMountinfo();
  await fillBytes(kubeletDir, 1024 * 1024);

  const children: ChildProcess[] = [];
  try {
    const agent = await startBundledAgent(flags, ["--host-root", fixture.root, "--listen", "127.0.0.1:0", "--node-name", "bench-node"]);
    children.push(agent.child);
    const { address, firstDiagnosisMs } = agent;

    const exporterPort = await freePort();
    const exporter = spawn(exporterPath, [`--web.listen-address=127.0.0.1:${exporterPort}`], { stdio: "ignore" });
    children.push(exporter);

    process.stdout.write(`node ${process.version}, agent flags: ${flags.join(" ") || "(none)"}\n`);
    process.stdout.write(`first complete diagnosis: ${firstDiagnosisMs.toFixed(0)} ms after spawn (target <= 2000 ms)\n`);
    process.stdout.write(`warming up 10 s, then sampling ${seconds} s each …\n`);
    await new Promise((r) => setTimeout(r, 10_000));
    const results = [
      await measureProcess("node-doctor (bundled)", agent.child.pid as number, `${address}/metrics`, seconds),
      await measureProcess("prometheus-node-exporter", exporter.pid as number, `http://127.0.0.1:${exporterPort}/metrics`, seconds),
    ];
    process.stdout.write(
      "\n| process | RSS MiB (end) | RSS MiB (max) | RSS slope KiB/min | CPU millicores | /metrics p50 ms | /metrics p99 ms (50 req/s) |\n|---|---|---|---|---|---|---|\n",
    );
    for (const r of results) {
      process.stdout.write(
        `| ${r.name} | ${r.rssMiB.toFixed(1)} | ${r.rssMaxMiB.toFixed(1)} | ${r.slopeKiBPerMin.toFixed(1)} | ${r.millicores.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |\n`,
      );
    }
    const floor = await floorLatency();
    process.stdout.write(`| floor: bare node:http server answering "ok" | | | | | ${floor.p50.toFixed(2)} | ${floor.p99.toFixed(2)} |\n`);
    const [nd, ne] = results;
    if (nd && ne) process.stdout.write(`\nRSS ratio node-doctor / node-exporter: ${(nd.rssMiB / ne.rssMiB).toFixed(2)}\n`);
  } finally {
    for (const child of children) await stop(child);
    await fixture.cleanup();
  }
}
