/**
 * The one way node-doctor talks to the API server: JSON over node:https with
 * a keep-alive agent, a deadline on every request, bounded response bodies,
 * and one observation per request for the API metrics. Kubernetes types come
 * from kubernetes-types (erased at build); response shapes are checked by the
 * caller (client.ts) before use.
 */
import { Agent, request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { ApiTiming } from "../types.js";

/** What a request authenticates and verifies with, resolved from in-cluster config or a kubeconfig. */
export interface Credentials {
  /** https://host:port, without a trailing slash. */
  server: string;
  /** PEM CA bundle that signed the server's certificate; the system roots when absent. */
  ca?: string;
  /** PEM client certificate and key. */
  cert?: string;
  key?: string;
  /** The bearer token to send now; re-read by the provider when it rotates. */
  token?: () => Promise<string | undefined>;
  /** Told when the server answers 401, so a rotated token is re-read at once. */
  onUnauthorized?: () => void;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  /** Where these credentials came from, for log lines ("in-cluster", "kubeconfig /path"). */
  origin: string;
}

export type ApiVerb = "get" | "list" | "create" | "patch" | "update" | "delete";

export interface RequestSpec {
  verb: ApiVerb;
  /** Bounded metric label: "nodes", "nodes/status", "events", "leases", "version". */
  resource: string;
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the transport's default deadline. */
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  headers: IncomingHttpHeaders;
  timing: ApiTiming;
}

/** An answer that was not 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly verb: ApiVerb,
    readonly resource: string,
    /** From Retry-After on 429/503, in ms. */
    readonly retryAfterMs?: number,
    /** Present when the server answered. */
    readonly timing?: ApiTiming,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** True when the API server could not be reached or did not answer in time. */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

/** Called once per request, for metrics: code is the HTTP status or "<error>" when there was no answer. */
export type RequestObserver = (observation: { verb: ApiVerb; resource: string; code: string; seconds: number }) => void;

export interface TransportOptions {
  /** Default deadline per request. */
  timeoutMs: number;
  /** Wall clock for ApiTiming (the clock check compares it with the Date header). */
  now?: () => number;
  observe?: RequestObserver;
  /** Largest response body accepted (default 16 MiB): bounded memory whatever the server sends. */
  maxResponseBytes?: number;
}

/** Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function statusMessage(body: unknown): { reason?: string; message?: string } {
  if (typeof body !== "object" || body === null) return {};
  const record = body as Record<string, unknown>;
  return {
    ...(typeof record["reason"] === "string" ? { reason: record["reason"] } : {}),
    ...(typeof record["message"] === "string" ? { message: record["message"] } : {}),
  };
}

export class Transport {
  private readonly agent: Agent;
  private readonly now: () => number;
  private readonly maxBytes: number;
  readonly server: URL;

  constructor(
    readonly credentials: Credentials,
    private readonly options: TransportOptions,
  ) {
    this.server = new URL(credentials.server);
    if (this.server.protocol !== "https:") throw new Error(`API server ${credentials.server}: only https:// servers are supported`);
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 4,
      ...(credentials.ca ? { ca: credentials.ca } : {}),
      ...(credentials.cert ? { cert: credentials.cert } : {}),
      ...(credentials.key ? { key: credentials.key } : {}),
      rejectUnauthorized: !credentials.insecureSkipTlsVerify,
      ...(credentials.tlsServerName ? { servername: credentials.tlsServerName } : {}),
    });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Sends one request; resolves with a 2xx answer, rejects with ApiError otherwise. */
  async request(spec: RequestSpec): Promise<ApiResponse> {
    const started = performance.now();
    let code = "<error>";
    try {
      const response = await this.send(spec);
      code = String(response.status);
      if (response.status >= 200 && response.status < 300) return response;
      if (response.status === 401) this.credentials.onUnauthorized?.();
      const { reason, message } = statusMessage(response.body);
      const retryAfter = parseRetryAfter(headerValue(response.headers["retry-after"]), this.now());
      throw new ApiError(
        response.status,
        reason ?? `HTTP${response.status}`,
        `${spec.method} ${spec.path}: ${response.status} ${reason ?? ""}${message ? `: ${message}` : ""}`.replace(/\s+:/, ":"),
        spec.verb,
        spec.resource,
        retryAfter,
        response.timing,
      );
    } finally {
      this.options.observe?.({ verb: spec.verb, resource: spec.resource, code, seconds: (performance.now() - started) / 1000 });
    }
  }

  private async send(spec: RequestSpec): Promise<ApiResponse> {
    const timeoutMs = spec.timeoutMs ?? this.options.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = spec.signal ? AbortSignal.any([spec.signal, deadline]) : deadline;
    const fail = (message: string) => new ApiError(0, "Unreachable", `${spec.method} ${spec.path}: ${message}`, spec.verb, spec.resource);
    if (signal.aborted) throw fail(deadline.aborted ? `no answer within ${timeoutMs} ms` : "aborted");

    const token = await this.credentials.token?.();
    const query = spec.query && Object.keys(spec.query).length > 0 ? `?${new URLSearchParams(spec.query).toString()}` : "";
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "node-doctor" };
    if (token) headers["Authorization"] = `Bearer ${token}`;
    if (payload) {
      headers["Content-Type"] = spec.contentType ?? "application/json";
      headers["Content-Length"] = String(payload.length);
    }

    return new Promise<ApiResponse>((resolve, reject) => {
      const sentAtMs = this.now();
      const req = httpsRequest({
        host: this.server.hostname.replace(/^\[|\]$/g, ""),
        port: this.server.port || 443,
        path: `${this.server.pathname.replace(/\/$/, "")}${spec.path}${query}`,
        method: spec.method,
        headers,
        agent: this.agent,
        signal,
      });
      req.on("error", (error: Error) => {
        if (deadline.aborted) reject(fail(`no answer within ${timeoutMs} ms`));
        else if (signal.aborted) reject(fail("aborted"));
        else reject(fail((error as NodeJS.ErrnoException).code ?? error.message));
      });
      req.on("response", (res) => {
        const receivedAtMs = this.now();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBytes) {
            req.destroy();
            reject(fail(`response larger than ${this.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        const cut = () => reject(fail(deadline.aborted ? `no answer within ${timeoutMs} ms` : signal.aborted ? "aborted" : "connection closed mid-answer"));
        res.on("error", cut);
        res.on("close", () => {
          if (!res.complete) cut();
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = undefined;
          if (text) {
            try {
              body = JSON.parse(text);
            } catch {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) {
                reject(fail(`answer ${status} is not JSON`));
                return;
              }
              body = { message: text.slice(0, 200) };
            }
          }
          const dateHeader = res.headers.date ? Date.parse(res.headers.date) : Number.NaN;
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            timing: { sentAtMs, receivedAtMs, ...(Number.isNaN(dateHeader) ? {} : { serverDateMs: dateHeader }) },
          });
        });
      });
      req.end(payload);
    });
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
