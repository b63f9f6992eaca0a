/**
 * The agent's HTTP endpoints, on fastify. Every route serves cached state:
 * nothing here reads the host or calls a check.
 *
 *   /         the status page: findings with remedies, worst first (HTML)
 *   /metrics  Prometheus exposition of node-doctor's own registry
 *   /healthz  the process is alive and its event loop turns
 *   /readyz   the first round of checks is done and no check is stuck
 *   /findings conditions and the latest findings, as JSON (bounded in size)
 *
 * The port is reachable from the pod network, so what a client can hold is
 * bounded: connections (the oldest idle one makes room for a new one),
 * header size, the time to send headers, idle keep-alive. fastify's request
 * log is the agent's pino log, with per-request lines off (a scrape every
 * few seconds is not news); errors are logged.
 */
import fastify, { LogController } from "fastify";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Registry } from "../../telemetry/prometheus.js";
import type { AgentLog } from "../../telemetry/log.js";
import { sortFindings } from "../../engine/state.js";
import type { Finding, StateView } from "../../types.js";
import { renderStatusPage } from "./status-page.js";
import { errorText, isoTimeMs } from "../../text/format.js";
import { within } from "../../time/deadline.js";
import { systemClock } from "../../time/clock.js";

export interface ServerDeps {
  registry: Registry;
  state: StateView;
  nodeName: string;
  version: string;
  /** Checks whose run outlived its timeout. */
  stuckChecks(): string[];
  log: AgentLog;
  now?: () => number;
}

export interface Response {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface AgentServer {
  /** Answers one request without the network (fastify's inject). */
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

/**
 * Limits. An idle keep-alive connection costs about 9 KiB of the agent's
 * memory (10,000 of them took it from 62 to 154 MiB), so at most
 * MAX_CONNECTIONS are open: past it, the connection idle longest is closed to
 * make room, and a new one is refused only when every open one has a request
 * in flight. Prometheus scrapes every 15–60 s: reconnecting for a scrape
 * costs less than holding idle sockets for everyone, so idle keep-alive is
 * short.
 */
export const SERVER_LIMITS = {
  maxConnections: 256,
  keepAliveTimeoutMs: 5_000,
  /** A client must send its request headers within this time (slowloris). */
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  /** A connection that sends nothing at all for this long is closed. */
  idleSocketTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  /** How often Node enforces the headers and request timeouts on open connections. */
  timeoutCheckMs: 2_000,
  /** /findings stays a size a browser, jq or a log shipper handles; the worst findings are kept. */
  maxFindingsBytes: 1024 * 1024,
} as const;

const ROUTES = ["/", "/metrics", "/healthz", "/readyz", "/findings"] as const;
const JSON_TYPE = "application/json; charset=utf-8";

/** A CheckRun as /findings shows it. */
function runSummary(run: ReturnType<StateView["runs"]>[number]) {
  return {
    check: run.check,
    outcome: run.outcome,
    startedAt: isoTimeMs(run.startedAtMs),
    durationMs: Math.round(run.durationMs * 1000) / 1000,
    ...(run.error ? { error: run.error } : {}),
  };
}

/**
 * /findings as JSON no larger than `maxBytes`: findings worst first, as many
 * as fit; when some do not, `truncated` says how many and where to look.
 */
export function findingsDocument(deps: Pick<ServerDeps, "state" | "nodeName">, maxBytes: number = SERVER_LIMITS.maxFindingsBytes): string {
  const findings = sortFindings(deps.state.runs().flatMap((run) => run.findings));
  // A condition's own findings are the same findings again: listed once, below.
  const conditions = deps.state.conditions().map(({ findings: _same, ...condition }) => condition);
  const head = { node: deps.nodeName, conditions, checks: deps.state.runs().map(runSummary) };
  const full = JSON.stringify({ ...head, findings });
  if (Buffer.byteLength(full) <= maxBytes) return full;
  // Room for the head and the note; each finding costs its JSON and a comma.
  const note = (shown: number) => ({
    findings: findings.length,
    shown,
    reason: `the findings exceed ${maxBytes} bytes of JSON; the worst are shown first, every one counts in node_doctor_findings`,
  });
  let budget = maxBytes - Buffer.byteLength(JSON.stringify({ ...head, findings: [], truncated: note(findings.length) }));
  const kept: Finding[] = [];
  for (const finding of findings) {
    const cost = Buffer.byteLength(JSON.stringify(finding)) + 1;
    if (cost > budget) break;
    budget -= cost;
    kept.push(finding);
  }
  return JSON.stringify({ ...head, findings: kept, truncated: note(kept.length) });
}

/** Bounds open connections: past the cap, the connection idle longest makes room. */
function capConnections(server: Server, log: AgentLog): void {
  const open = new Set<Socket>(); // insertion order: oldest first
  const busy = new WeakSet<Socket>();
  let refused = 0;
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    busy.add(request.socket);
    const done = () => busy.delete(request.socket);
    response.once("finish", done);
    response.once("close", done);
  });
  server.on("connection", (socket: Socket) => {
    if (open.size >= SERVER_LIMITS.maxConnections) {
      let evicted = false;
      for (const candidate of open) {
        if (busy.has(candidate)) continue;
        candidate.destroy();
        open.delete(candidate);
        evicted = true;
        break;
      }
      if (!evicted) {
        socket.destroy();
        if (refused++ % 1000 === 0)
          log.warn({ maxConnections: SERVER_LIMITS.maxConnections, refused }, "connection refused: every open connection has a request in flight");
        return;
      }
    }
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
}

function noSchemas(): never {
  throw new Error("the agent's routes have no schemas");
}

export function buildServer(deps: ServerDeps): AgentServer {
  const now = deps.now ?? Date.now;
  let cached: { text: Promise<string>; atMs: number } | undefined;
  let closing = false;

  const app = fastify({
    // fastify's own info lines (one per address listened on, with no text of the agent's) say what
    // the agent's "serving" line says; its warnings and errors still come through.
    loggerInstance: deps.log.child({ sink: "http" }, { level: "warn" }),
    logController: new LogController({ disableRequestLogging: true }),
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
    requestTimeout: SERVER_LIMITS.requestTimeoutMs,
    connectionTimeout: SERVER_LIMITS.idleSocketTimeoutMs,
    bodyLimit: 1024,
    forceCloseConnections: "idle",
    return503OnClosing: false, // answered below, in the same shape as the other routes
    // No route has a schema: fastify then never loads ajv and fast-json-stringify (measured: docs/performance.md).
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
    http: {
      maxHeaderSize: SERVER_LIMITS.maxHeaderBytes,
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      connectionsCheckingInterval: SERVER_LIMITS.timeoutCheckMs,
    },
  });
  capConnections(app.server, deps.log);

  app.addHook("onRequest", async (_request, reply) => {
    if (closing) return reply.code(503).header("connection", "close").type(JSON_TYPE).send({ status: "shutting down" });
  });

  app.get("/metrics", async (_request, reply) => {
    const at = performance.now();
    if (!cached || at - cached.atMs >= METRICS_CACHE_MS) {
      cached = { text: deps.registry.metrics(), atMs: at };
      cached.text.catch(() => (cached = undefined));
    }
    return reply.type(deps.registry.contentType).send(await cached.text);
  });
  app.get("/healthz", async (_request, reply) => reply.type(JSON_TYPE).send({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const problems: string[] = [];
    if (!deps.state.firstRoundDone()) problems.push("the first round of checks has not finished");
    const stuck = deps.stuckChecks();
    if (stuck.length > 0) problems.push(`checks stuck past their timeout: ${stuck.join(", ")}`);
    return reply
      .code(problems.length > 0 ? 503 : 200)
      .type(JSON_TYPE)
      .send(problems.length > 0 ? { status: "not ready", problems } : { status: "ready" });
  });
  app.get("/findings", async (_request, reply) => reply.type(JSON_TYPE).send(findingsDocument(deps)));
  app.get("/", async (_request, reply) =>
    reply
      .type("text/html; charset=utf-8")
      // The page is self-contained: no script, no request for anything else (styles are inline).
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .header("x-content-type-options", "nosniff")
      .send(renderStatusPage({ nodeName: deps.nodeName, version: deps.version, nowMs: now(), conditions: deps.state.conditions(), runs: deps.state.runs() })),
  );

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    if ((ROUTES as readonly string[]).includes(path)) {
      return reply
        .code(405)
        .header("allow", "GET, HEAD")
        .type(JSON_TYPE)
        .send({ error: `${request.method} not allowed; use GET` });
    }
    return reply
      .code(404)
      .type(JSON_TYPE)
      .send({ error: `no route ${path}; routes: ${ROUTES.join(", ")}` });
  });
  app.setErrorHandler(async (error, request, reply) => {
    const status = typeof error === "object" && error && "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status >= 500) deps.log.error({ err: errorText(error), path: request.url }, "request failed");
    return reply
      .code(status)
      .type(JSON_TYPE)
      .send({ error: status >= 500 ? "internal error; see the agent's log" : errorText(error) });
  });

  return {
    async respond(method, path) {
      if (closing) return { statusCode: 503, headers: { "content-type": JSON_TYPE }, body: JSON.stringify({ status: "shutting down" }) };
      const response = await app.inject({ method: method as "GET", url: path });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = String(value);
      return { statusCode: response.statusCode, headers, body: response.body };
    },
    async listen(address) {
      await app.listen({ host: address.host, port: address.port });
      const bound = app.server.address() as AddressInfo;
      const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
      const url = `http://${host}:${bound.port}`;
      deps.log.info({ address: url }, "serving");
      return url;
    },
    async close() {
      closing = true;
      // Requests in flight finish; connections still open after a second (of real time: the
      // process is stopping) are cut.
      const closed = app.close().then(() => true as const);
      if (!(await within(systemClock, 1000, closed))) {
        app.server.closeAllConnections();
        await closed;
      }
    },
  };
}
