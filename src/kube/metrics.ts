/**
 * API client metrics: every request counted by verb, resource and code, its
 * latency, and whether the API server is usable right now. Registered on the
 * agent's own registry (the `node` label comes from it).
 */
import { Counter, Gauge, Histogram, type Registry } from "../telemetry/prometheus.js";
import type { RequestObserver } from "./transport.js";

export interface ApiMetrics {
  observe: RequestObserver;
}

/** Codes that say the API server is not usable by us now (no answer, refused credentials, overload, server error). */
export function isUnusable(code: string): boolean {
  return code === "<error>" || code === "401" || code === "403" || code === "429" || code.startsWith("5");
}

export function createApiMetrics(registry: Registry): ApiMetrics {
  const requests = new Counter({
    name: "node_doctor_apiserver_requests_total",
    help: 'Requests to the API server by verb, resource and HTTP code ("<error>" when there was no answer).',
    labelNames: ["verb", "resource", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "node_doctor_apiserver_request_duration_seconds",
    help: "Latency of requests to the API server, including failed ones.",
    labelNames: ["verb", "resource"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const reachable = new Gauge({
    name: "node_doctor_apiserver_reachable",
    help: "1 when the latest request to the API server was answered and accepted; 0 when it got no answer, 401/403, 429 or 5xx.",
    registers: [registry],
  });
  return {
    observe({ verb, resource, code, seconds }) {
      requests.inc({ verb, resource, code });
      duration.observe({ verb, resource }, seconds);
      reachable.set(isUnusable(code) ? 0 : 1);
    },
  };
}
