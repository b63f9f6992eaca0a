/**
 * The one way node-doctor talks to the API server: JSON over node:https with
 * a keep-alive agent, a deadline on every request, bounded response bodies,
 * and one observation per request for the API metrics. Kubernetes types come
 * from kubernetes-types (erased at build); response shapes are checked by the
 * caller (client.ts) before use.
 */
import { Agent, request as httpsRequest, type AgentOptions } from "node:https";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { Duplex } from "node:stream";
import type { ApiTiming } from "../types.js";
import { JsonDepthError, parseUntrustedJson } from "../text/json.js";

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
  /** kubeconfig `as`, `as-uid`, `as-groups`, `as-user-extra`: requests act as this user (Impersonate-* headers). */
  impersonate?: { user: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  /** kubeconfig `proxy-url` (http:// or https://): the API server is reached through this CONNECT proxy. */
  proxyUrl?: string;
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

/**
 * An HTTPS agent whose connections go through an HTTP CONNECT proxy (as
 * client-go does for a kubeconfig's proxy-url): one tunnel per connection,
 * then TLS to the API server inside it, verified as without the proxy.
 */
class TunnelAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: ConnectionOptions & { host?: string; port?: number },
    callback: (error: Error | null, socket?: Duplex) => void,
  ): undefined {
    const target = `${options.host?.includes(":") ? `[${options.host}]` : options.host}:${options.port ?? 443}`;
    const auth = this.proxy.username
      ? `Basic ${Buffer.from(`${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`).toString("base64")}`
      : undefined;
    const connectRequest = (this.proxy.protocol === "https:" ? httpsRequest : httpRequest)({
      host: this.proxy.hostname.replace(/^\[|\]$/g, ""),
      port: this.proxy.port || (this.proxy.protocol === "https:" ? 443 : 80),
      method: "CONNECT",
      path: target,
      headers: { host: target, ...(auth ? { "proxy-authorization": auth } : {}) },
      agent: false,
    });
    connectRequest.once("connect", (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        callback(new Error(`proxy ${this.proxy.host} refused CONNECT ${target}: HTTP ${response.statusCode}`));
        return;
      }
      callback(null, tlsConnect({ ...options, socket }));
    });
    connectRequest.once("error", (error) => callback(new Error(`proxy ${this.proxy.host}: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
    connectRequest.end();
    return undefined;
  }
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
    const agentOptions: AgentOptions = {
      keepAlive: true,
      maxSockets: 4,
      ...(credentials.ca ? { ca: credentials.ca } : {}),
      ...(credentials.cert ? { cert: credentials.cert } : {}),
      ...(credentials.key ? { key: credentials.key } : {}),
      rejectUnauthorized: !credentials.insecureSkipTlsVerify,
      ...(credentials.tlsServerName ? { servername: credentials.tlsServerName } : {}),
    };
    this.agent = credentials.proxyUrl ? new TunnelAgent(new URL(credentials.proxyUrl), agentOptions) : new Agent(agentOptions);
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
    const headers: Record<string, string | string[]> = { Accept: "application/json", "User-Agent": "node-doctor" };
    if (token) headers["Authorization"] = `Bearer ${token}`;
    const as = this.credentials.impersonate;
    if (as) {
      headers["Impersonate-User"] = as.user;
      if (as.uid) headers["Impersonate-Uid"] = as.uid;
      if (as.groups?.length) headers["Impersonate-Group"] = as.groups; // one header line per group
      for (const [key, values] of Object.entries(as.extra ?? {})) headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = values.join(",");
    }
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
              body = parseUntrustedJson(text);
            } catch (error) {
              const status = res.statusCode ?? 0;
              if (error instanceof JsonDepthError) {
                reject(fail(`answer ${status} is ${error.message}`));
                return;
              }
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
