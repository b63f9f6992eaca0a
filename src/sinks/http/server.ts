/**
 * The agent's HTTP endpoints, on node:http. Every route serves cached state:
 * nothing here reads the host or calls a check.
 *
 *   /metrics  Prometheus exposition of node-doctor's own registry
 *   /healthz  the process is alive and its event loop turns
 *   /readyz   the first round of checks is done and no check is stuck
 *   /findings conditions and the latest findings, as JSON
 *
 * Four read-only routes do not need a web framework, and the memory budget
 * (<= 72 MiB, docs/performance.md) cannot spare one: fastify with its schema compiler
 * cost 12 MiB of the agent's resident memory here, measured on the bundle.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "../../telemetry/prometheus.js";
import type { Log, StateView } from "../../types.js";

export interface ServerDeps {
  registry: Registry;
  state: StateView;
  nodeName: string;
  /** Checks whose run outlived its timeout. */
  stuckChecks(): string[];
  log: Log;
}

export interface Response {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface AgentServer {
  /** Answers one request without the network (tests, and the HTTP handler below). */
  respond(method: string, path: string): Promise<Response>;
  /** Resolves with the URL it serves on. */
  listen(address: { host: string; port: number }): Promise<string>;
  /** Stops accepting, answers 503 to requests on open keep-alive connections, and closes them. */
  close(): Promise<void>;
}

/**
 * The exposition is rendered at most once per second: series change when
 * checks run (every ten seconds or more), and a burst of scrapers (or a
 * misconfigured one) then costs one render, not one per request.
 */
export const METRICS_CACHE_MS = 1000;

/** Slow or idle clients cannot hold sockets open for long. */
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 65_000; // above Prometheus' default scrape interval, so connections are reused

const json = (statusCode: number, value: unknown): Response => ({
  statusCode,
  headers: { "content-type": "application/json; charset=utf-8" },
  body: JSON.stringify(value),
});

export function buildServer(deps: ServerDeps): AgentServer {
  let cached: { text: Promise<string>; atMs: number } | undefined;
  let closing = false;

  const routes: Record<string, () => Promise<Response>> = {
    "/metrics": async () => {
      const now = performance.now();
      if (!cached || now - cached.atMs >= METRICS_CACHE_MS) {
        cached = { text: deps.registry.metrics(), atMs: now };
        cached.text.catch(() => (cached = undefined));
      }
      return { statusCode: 200, headers: { "content-type": deps.registry.contentType }, body: await cached.text };
    },
    "/healthz": async () => json(200, { status: "ok" }),
    "/readyz": async () => {
      const problems: string[] = [];
      if (!deps.state.firstRoundDone()) problems.push("the first round of checks has not finished");
      const stuck = deps.stuckChecks();
      if (stuck.length > 0) problems.push(`checks stuck past their timeout: ${stuck.join(", ")}`);
      return problems.length > 0 ? json(503, { status: "not ready", problems }) : json(200, { status: "ready" });
    },
    "/findings": async () =>
      json(200, {
        node: deps.nodeName,
        conditions: deps.state.conditions(),
        checks: deps.state.runs().map((run) => ({
          check: run.check,
          outcome: run.outcome,
          startedAt: new Date(run.startedAtMs).toISOString(),
          durationMs: Math.round(run.durationMs * 1000) / 1000,
          ...(run.error ? { error: run.error } : {}),
        })),
        findings: deps.state.runs().flatMap((run) => run.findings),
      }),
  };

  async function respond(method: string, rawPath: string): Promise<Response> {
    if (closing) return json(503, { status: "shutting down" });
    const path = rawPath.split("?")[0] ?? "/";
    const route = routes[path];
    if (!route) return json(404, { error: `no route ${path}; routes: ${Object.keys(routes).join(", ")}` });
    if (method !== "GET" && method !== "HEAD")
      return { ...json(405, { error: `${method} not allowed; use GET` }), headers: { "content-type": "application/json; charset=utf-8", allow: "GET, HEAD" } };
    return route();
  }

  const server = createServer(
    { requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS },
    (request: IncomingMessage, reply: ServerResponse) => {
      respond(request.method ?? "GET", request.url ?? "/").then(
        (response) => {
          reply.writeHead(response.statusCode, { ...response.headers, "content-length": Buffer.byteLength(response.body) });
          reply.end(request.method === "HEAD" ? undefined : response.body);
        },
        (error: unknown) => {
          deps.log.error({ err: error instanceof Error ? error.message : String(error), path: request.url }, "request failed");
          if (!reply.headersSent) reply.writeHead(500, { "content-type": "application/json; charset=utf-8" });
          reply.end(JSON.stringify({ error: "internal error; see the agent's log" }));
        },
      );
    },
  );
  server.on("clientError", (_error, socket) => socket.destroy());

  return {
    respond,
    listen(address) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(address.port, address.host, () => {
          server.off("error", reject);
          const bound = server.address() as AddressInfo;
          const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
          const url = `http://${host}:${bound.port}`;
          deps.log.info({ address: url }, "serving");
          resolve(url);
        });
      });
    },
    close() {
      closing = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests in flight finish; connections still open after a second are cut.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
    },
  };
}
