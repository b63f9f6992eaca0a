/**
 * The agent's HTTP endpoints. Built without listening so tests use inject().
 * Every route serves cached state: nothing here reads the host or calls a check.
 *
 *   /metrics  Prometheus exposition of node-doctor's own registry
 *   /healthz  the process is alive and its event loop turns
 *   /readyz   the first round of checks is done and no check is stuck
 *   /findings conditions and the latest findings, as JSON
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { StateView } from "./types.js";

export interface ServerDeps {
  registry: Registry;
  state: StateView;
  nodeName: string;
  /** Checks whose run outlived its timeout. */
  stuckChecks(): string[];
  log: FastifyBaseLogger;
}

/**
 * The exposition is rendered at most once per second: series change when
 * checks run (every ten seconds or more), and a burst of scrapers (or a
 * misconfigured one) then costs one render, not one per request.
 */
export const METRICS_CACHE_MS = 1000;

export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.log, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true });

  let cached: { text: Promise<string>; atMs: number } | undefined;
  app.get("/metrics", async (_request, reply) => {
    const now = performance.now();
    if (!cached || now - cached.atMs >= METRICS_CACHE_MS) {
      cached = { text: deps.registry.metrics(), atMs: now };
      cached.text.catch(() => (cached = undefined));
    }
    reply.header("content-type", deps.registry.contentType);
    return cached.text;
  });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const problems: string[] = [];
    if (!deps.state.firstRoundDone()) problems.push("the first round of checks has not finished");
    const stuck = deps.stuckChecks();
    if (stuck.length > 0) problems.push(`checks stuck past their timeout: ${stuck.join(", ")}`);
    if (problems.length > 0) return reply.code(503).send({ status: "not ready", problems });
    return { status: "ready" };
  });

  app.get("/findings", async () => ({
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
  }));

  return app;
}
