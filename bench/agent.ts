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
import { readFile } from "node:fs/promises";
import { Agent, createServer as createHttpServer, request } from "node:http";
import { createServer } from "node:net";
import { fillBytes, fixtureRoot } from "../test/support/fixture-root.js";
import { requireTool } from "../test/support/tools.js";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";

const BUNDLE = new URL("../dist/node-doctor.mjs", import.meta.url).pathname;
const CLOCK_TICKS = 100;

function option(args: string[], name: string, fallback: string): string {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** One keep-alive connection, as Prometheus scrapes. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(url, { agent: keepAlive }, (res) => {
      res.resume();
      res.on("end", () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** `rate` requests per second for `seconds`, evenly spaced; latencies in ms. */
async function load(url: string, rate: number, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(get(url).then((ms) => void latencies.push(ms)));
  }
  await Promise.all(pending);
  return latencies.sort((a, b) => a - b);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function slopeKiBPerMin(samples: Array<[number, number]>): number {
  const n = samples.length;
  const mx = samples.reduce((s, [x]) => s + x, 0) / n;
  const my = samples.reduce((s, [, y]) => s + y, 0) / n;
  const num = samples.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = samples.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

async function measureProcess(name: string, pid: number, metricsUrl: string, seconds: number) {
  const samples: Array<[number, number]> = [];
  const t0 = performance.now();
  const cpu0 = await cpuTicks(pid);
  while (performance.now() - t0 < seconds * 1000) {
    samples.push([(performance.now() - t0) / 1000, await rssKiB(pid)]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const cpuSeconds = (await cpuTicks(pid) - cpu0) / CLOCK_TICKS;
  const elapsed = (performance.now() - t0) / 1000;
  const latencies = await load(metricsUrl, 50, 20);
  const rss = samples.map(([, kib]) => kib);
  return {
    name,
    rssMiB: rss[rss.length - 1]! / 1024,
    rssMaxMiB: Math.max(...rss) / 1024,
    slopeKiBPerMin: slopeKiBPerMin(samples),
    millicores: (cpuSeconds / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
  };
}

/** What this machine's loopback and scheduler cost a trivial server under the same load. */
async function floorLatency(): Promise<{ p50: number; p99: number }> {
  const server = createHttpServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const latencies = await load(`http://127.0.0.1:${port}/`, 50, 20);
  await new Promise((resolve) => server.close(resolve));
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 6000).unref();
  });
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
    const startedAt = performance.now();
    const agent = spawn(process.execPath, [...flags, BUNDLE, "run", "--host-root", fixture.root, "--listen", "127.0.0.1:0", "--node-name", "bench-node"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(agent);
    const address = await new Promise<string>((resolve, reject) => {
      let out = "";
      agent.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const match = /serving on (http:\/\/\S+)/.exec(out);
        if (match && out.includes("Summary:")) resolve(match[1] as string);
      });
      agent.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
    });
    const firstDiagnosisMs = performance.now() - startedAt;

    const exporterPort = await freePort();
    const exporter = spawn(exporterPath, [`--web.listen-address=127.0.0.1:${exporterPort}`], { stdio: "ignore" });
    children.push(exporter);

    process.stdout.write(`node ${process.version}, agent flags: ${flags.join(" ") || "(none)"}\n`);
    process.stdout.write(`first complete diagnosis: ${firstDiagnosisMs.toFixed(0)} ms after spawn (target <= 2000 ms)\n`);
    process.stdout.write(`warming up 10 s, then sampling ${seconds} s each …\n`);
    await new Promise((r) => setTimeout(r, 10_000));
    const results = [
      await measureProcess("node-doctor (bundled)", agent.pid as number, `${address}/metrics`, seconds),
      await measureProcess("prometheus-node-exporter", exporter.pid as number, `http://127.0.0.1:${exporterPort}/metrics`, seconds),
    ];
    process.stdout.write("\n| process | RSS MiB (end) | RSS MiB (max) | RSS slope KiB/min | CPU millicores | /metrics p50 ms | /metrics p99 ms (50 req/s) |\n|---|---|---|---|---|---|---|\n");
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
