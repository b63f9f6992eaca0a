/**
 * Real Prometheus and Alertmanager (Debian packages) on loopback for end-to-end
 * tests, plus a webhook receiver that records what Alertmanager sends. Every
 * process is killed in stop(), which tests call from `after` hooks so a failed
 * assertion never leaves a server behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./tools.js";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Daemon {
  child: ChildProcess;
  dir: string;
  output(): string;
}

async function startDaemon(binary: string, args: (dir: string) => string[], files: Record<string, string>): Promise<Daemon> {
  const path = await requireTool(binary);
  const dir = await mkdtemp(join(tmpdir(), `nd-${binary}-`));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const child = spawn(path, args(dir), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, dir, output: () => out };
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
    const exited = new Promise((resolve) => daemon.child.once("exit", resolve));
    daemon.child.kill("SIGTERM");
    const timer = setTimeout(() => daemon.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  await rm(daemon.dir, { recursive: true, force: true });
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what` and the daemon's output. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; output?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}${options.output ? `\n--- output ---\n${options.output()}` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}: ${await response.text()}`);
  return response.json();
}

export interface PrometheusOptions {
  /** Rule files' contents, by file name. */
  rules?: Record<string, string>;
  /** host:port targets scraped as job "node-doctor". */
  targets: string[];
  alertmanager?: string;
  intervalSeconds?: number;
}

export interface PrometheusServer {
  url: string;
  /** An instant query's result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Active alerts as Prometheus sees them. */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }>>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const interval = `${options.intervalSeconds ?? 1}s`;
  const ruleFiles = Object.keys(options.rules ?? {});
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ...(ruleFiles.length ? ["rule_files:", ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
    ...(options.alertmanager ? ["alerting:", "  alertmanagers:", "    - static_configs:", `        - targets: [${JSON.stringify(options.alertmanager)}]`] : []),
    "scrape_configs:",
    "  - job_name: node-doctor",
    "    static_configs:",
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  ].join("\n");
  const daemon = await startDaemon(
    "prometheus",
    (dir) => [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { "prometheus.yml": config, ...(options.rules ?? {}) },
  );
  // Rule files are referenced relative to the config file's directory.
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor("prometheus to be ready", async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), { timeoutMs: 30_000, output: daemon.output });
  } catch (error) {
    await stopDaemon(daemon);
    throw error;
  }
  return {
    url,
    async query(expr) {
      const body = (await getJson(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)) as { data?: { result?: unknown } };
      const result = body.data?.result;
      if (!Array.isArray(result)) throw new Error(`query ${expr}: unexpected response ${JSON.stringify(body).slice(0, 200)}`);
      return result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    },
    async alerts() {
      const body = (await getJson(`${url}/api/v1/alerts`)) as { data?: { alerts?: unknown } };
      const alerts = body.data?.alerts;
      if (!Array.isArray(alerts)) throw new Error(`alerts: unexpected response ${JSON.stringify(body).slice(0, 200)}`);
      return alerts as Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }>;
    },
    output: daemon.output,
    stop: () => stopDaemon(daemon),
  };
}

export interface AlertmanagerServer {
  /** host:port, as Prometheus' alerting config wants it. */
  address: string;
  output(): string;
  stop(): Promise<void>;
}

/** Alertmanager sending every notification to `webhookUrl` at once, resolved ones too. */
export async function startAlertmanager(webhookUrl: string): Promise<AlertmanagerServer> {
  const port = await freePort();
  const config = [
    "route:",
    "  receiver: webhook",
    "  group_by: ['alertname', 'node']",
    "  group_wait: 0s",
    "  group_interval: 1s",
    "  repeat_interval: 1h",
    "receivers:",
    "  - name: webhook",
    "    webhook_configs:",
    `      - url: ${JSON.stringify(webhookUrl)}`,
    "        send_resolved: true",
  ].join("\n");
  const daemon = await startDaemon(
    "prometheus-alertmanager",
    (dir) => [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    { "alertmanager.yml": config },
  );
  const address = `127.0.0.1:${port}`;
  try {
    await waitFor("alertmanager to be ready", async () => ((await fetch(`http://${address}/-/ready`)).ok ? true : undefined), {
      timeoutMs: 30_000,
      output: daemon.output,
    });
  } catch (error) {
    await stopDaemon(daemon);
    throw error;
  }
  return { address, output: daemon.output, stop: () => stopDaemon(daemon) };
}

export interface WebhookAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface WebhookReceiver {
  url: string;
  received: WebhookAlert[];
  stop(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.on("data", (d: Buffer) => {
      body += d.toString();
      if (body.length > 1_000_000) request.destroy(new Error("webhook body over 1 MB"));
    });
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}

/** Records every alert Alertmanager posts (its webhook payload, version 4). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: WebhookAlert[] = [];
  const server: Server = createServer((request, response) => {
    readBody(request).then(
      (body) => {
        const payload = JSON.parse(body) as { alerts?: WebhookAlert[] };
        received.push(...(payload.alerts ?? []));
        response.end("ok");
      },
      () => {
        response.statusCode = 400;
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
