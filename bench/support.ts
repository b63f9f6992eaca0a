/**
 * What the process benchmarks share: options, ports, /proc sampling of
 * another process, an evenly paced /metrics load, percentiles and slopes,
 * and starting/stopping the bundled agent.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import { Agent, createServer as createHttpServer, request } from "node:http";
import { createServer } from "node:net";

export const BUNDLE = new URL("../dist/node-doctor.mjs", import.meta.url).pathname;
export const CLOCK_TICKS = 100;

/** `--name=value` or `--name value` (bench/run.ts passes both as `--name=value`). */
export function option(args: string[], name: string, fallback: string): string {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

export async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** One keep-alive connection, as Prometheus scrapes. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

/** GET with the keep-alive connection; resolves with the latency in ms. */
export function get(url: string): Promise<number> {
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

/** GET on a fresh connection; resolves with the body. */
export function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** `rate` requests per second for `seconds`, evenly spaced; latencies in ms, sorted. */
export async function load(url: string, rate: number, seconds: number): Promise<number[]> {
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

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Least-squares slope of [seconds, value] samples, per minute. */
export function slopePerMin(samples: Array<[number, number]>): number {
  const n = samples.length;
  const mx = samples.reduce((s, [x]) => s + x, 0) / n;
  const my = samples.reduce((s, [, y]) => s + y, 0) / n;
  const num = samples.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = samples.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

/** What this machine's loopback and scheduler cost a trivial server under the same load. */
export async function floorLatency(): Promise<{ p50: number; p99: number }> {
  const server = createHttpServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const latencies = await load(`http://127.0.0.1:${port}/`, 50, 20);
  await new Promise((resolve) => server.close(resolve));
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 6000).unref();
  });
}

/** Spawns the bundled agent; resolves once it serves and printed its first summary. */
export async function startBundledAgent(
  nodeFlags: string[],
  args: string[],
  /** Another build's bundle, to measure it side by side (default: this checkout's). */
  bundle: string = BUNDLE,
): Promise<{ child: ChildProcess; address: string; firstDiagnosisMs: number; output: () => string }> {
  // A missing bundle (--bundle=PATH mistyped, or no build yet) is said as such, not as the agent exiting.
  await access(bundle).catch((error: NodeJS.ErrnoException) =>
    Promise.reject(new Error(`bundle ${bundle}: ${error.code ?? error.message}${bundle === BUNDLE ? " (npm run build first)" : ""}`)),
  );
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, bundle, "run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const address = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-1_000_000);
      const match = /serving on (http:\/\/\S+)/.exec(out);
      if (match && out.includes("Summary:")) resolve(match[1] as string);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
  });
  return { child, address, firstDiagnosisMs: performance.now() - startedAt, output: () => out };
}
