/**
 * A minimal gRPC client for unary calls over a unix socket, on node:http2.
 * The container runtime's CRI socket is the one user; @grpc/grpc-js would
 * cost more resident memory than the agent's whole budget allows.
 *
 * Every call has a deadline (sent as grpc-timeout and enforced locally) and
 * honours an AbortSignal; every way it can fail is a GrpcError whose `kind`
 * says what happened at the socket, so the caller can turn it into a finding.
 * No HTTP/2 keepalive pings: the peer is on a local unix socket, where a
 * dead daemon closes the connection (or refuses the next one) and a hung one
 * is caught by each call's deadline; pings would add a timer per connection
 * and find nothing the deadlines miss.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { errorText } from "../text/format.js";

export type GrpcFailureKind =
  /** No socket at the path. */
  | "missing"
  /** The socket exists but nothing listens on it (a dead daemon's leftover). */
  | "refused"
  | "denied"
  /** Connected but no answer within the deadline. */
  | "timeout"
  /** The peer does not speak gRPC over HTTP/2, or sent a malformed reply. */
  | "protocol"
  /** The peer closed the connection without answering. */
  | "closed"
  /** A gRPC status other than OK; `code` holds it. */
  | "status"
  /** The caller's signal aborted (shutdown or the check's own timeout). */
  | "aborted";

export class GrpcError extends Error {
  constructor(
    readonly kind: GrpcFailureKind,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = "GrpcError";
  }
}

/** gRPC status codes we name in messages. */
export const GRPC_STATUS: Readonly<Record<number, string>> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  16: "UNAUTHENTICATED",
};

export const GRPC_UNIMPLEMENTED = 12;

/**
 * Replies larger than this are refused: bounded memory whatever the peer
 * sends. kubelet's own CRI client accepts 16 MiB (its maxMsgSize), and a
 * node with thousands of containers answers ListContainers with megabytes:
 * what kubelet accepts, the agent reads.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

function describeCode(code: number): string {
  return GRPC_STATUS[code] ?? `code ${code}`;
}

const SOCKET_ERRNOS = new Set(["ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTSOCK", "ECONNRESET", "EPIPE"]);

/** The errno behind an error; http2 wraps connect errors as a stream's `cause`. */
function errnoOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && SOCKET_ERRNOS.has(code)) return code;
  }
  return undefined;
}

/** Turns a socket or HTTP/2 error into a GrpcError naming the socket. */
function classify(socketPath: string, error: unknown): GrpcError {
  if (error instanceof GrpcError) return error;
  const code = errnoOf(error);
  const detail = errorText(error);
  switch (code) {
    case "ENOENT":
      return new GrpcError("missing", `${socketPath}: no such socket`);
    case "ECONNREFUSED":
      return new GrpcError("refused", `${socketPath}: connection refused (nothing listens on the socket)`);
    case "EACCES":
    case "EPERM":
      return new GrpcError("denied", `${socketPath}: permission denied`);
    case "ENOTSOCK":
      return new GrpcError("refused", `${socketPath}: not a socket`);
    case "ECONNRESET":
    case "EPIPE":
      return new GrpcError("closed", `${socketPath}: the peer closed the connection (${code})`);
    default:
      return new GrpcError("protocol", `${socketPath}: not a gRPC (HTTP/2) endpoint: ${detail}`);
  }
}

/** The 5-byte gRPC message prefix: compressed flag, then the length big-endian. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits a reply body into gRPC messages; a unary reply has exactly one. */
export function unframeMessages(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (offset + 5 > body.length) throw new Error(`truncated gRPC frame header at byte ${offset}`);
    const compressed = body.readUInt8(offset);
    const length = body.readUInt32BE(offset + 1);
    if (compressed !== 0) throw new Error(`compressed gRPC message (flag ${compressed}) though none was accepted`);
    if (offset + 5 + length > body.length) throw new Error(`gRPC frame claims ${length} bytes, only ${body.length - offset - 5} arrived`);
    messages.push(body.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return messages;
}

function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function header(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One HTTP/2 connection to a unix socket; unary calls share it until it fails or closes. */
export class GrpcUnixClient {
  private readonly session: http2.ClientHttp2Session;
  /** The first connection-level failure; later calls fail with it at once. */
  private failure?: GrpcError;

  constructor(readonly socketPath: string) {
    this.session = http2.connect("http://localhost", {
      createConnection: () => net.connect(socketPath),
      // The runtime pushes nothing; refuse it rather than buffer it.
      settings: { enablePush: false },
      // MiB nghttp2 may buffer for the session: above the largest reply accepted.
      maxSessionMemory: 2 * (MAX_REPLY_BYTES / (1024 * 1024)),
    });
    this.session.on("error", (error: unknown) => {
      this.failure ??= classify(socketPath, error);
    });
    // An idle session must not keep the agent (or a test) alive.
    this.session.unref();
  }

  /**
   * Calls `path` ("/package.Service/Method") with an encoded request and
   * resolves with the encoded reply, or rejects with a GrpcError.
   */
  unary(path: string, request: Uint8Array, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Uint8Array> {
    const { socketPath } = this;
    if (this.failure) return Promise.reject(this.failure);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new GrpcError("aborted", `${path} on ${socketPath}: aborted before it started`));

    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      let stream: http2.ClientHttp2Stream | undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      let responseHeaders: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;

      const finish = (error: GrpcError | undefined, value?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.session.off("error", onSessionError);
        this.session.off("close", onSessionClose);
        if (error) {
          if (stream && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(error);
        } else resolve(value ?? new Uint8Array());
      };
      const onAbort = () => finish(new GrpcError("aborted", `${path} on ${socketPath}: aborted`));
      // A referenced timer: a pending call must not let the process exit with its promise unsettled.
      const timer = setTimeout(
        () => finish(new GrpcError("timeout", `${socketPath}: no answer to ${path} within ${options.timeoutMs} ms`)),
        Math.max(1, options.timeoutMs),
      );
      const onSessionError = (error: unknown) => finish(classify(socketPath, error));
      const onSessionClose = () => finish(this.failure ?? new GrpcError("closed", `${socketPath}: the connection closed before ${path} was answered`));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.session.on("error", onSessionError);
      this.session.on("close", onSessionClose);

      try {
        stream = this.session.request({
          ":method": "POST",
          ":path": path,
          ":authority": "localhost",
          "content-type": "application/grpc",
          te: "trailers",
          "grpc-timeout": `${Math.max(1, Math.ceil(options.timeoutMs))}m`,
        });
      } catch (error) {
        finish(classify(socketPath, error));
        return;
      }
      stream.on("response", (headers) => {
        responseHeaders = headers;
      });
      stream.on("trailers", (headers) => {
        trailers = headers;
      });
      stream.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_REPLY_BYTES) {
          finish(new GrpcError("protocol", `${socketPath}: reply to ${path} exceeds ${MAX_REPLY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on("error", (error: unknown) => finish(classify(socketPath, error)));
      stream.on("close", () => {
        if (settled) return;
        finish(...this.interpret(path, responseHeaders, trailers, Buffer.concat(chunks), stream?.rstCode));
      });
      stream.end(frameMessage(request));
    });
  }

  /** Judges a finished stream: HTTP status, content type, grpc-status, then the single message. */
  private interpret(
    path: string,
    headers: http2.IncomingHttpHeaders | undefined,
    trailers: http2.IncomingHttpHeaders | undefined,
    body: Buffer,
    rstCode: number | undefined,
  ): [GrpcError | undefined, Uint8Array?] {
    const where = `${this.socketPath}: ${path}`;
    if (!headers) {
      if (this.failure) return [this.failure];
      return [new GrpcError("closed", `${where}: the stream closed without a reply${rstCode ? ` (HTTP/2 error ${rstCode})` : ""}`)];
    }
    const rawStatus = headers[":status"];
    const status = rawStatus === undefined ? undefined : String(rawStatus);
    const contentType = header(headers, "content-type") ?? "";
    if (status !== "200") return [new GrpcError("protocol", `${where}: HTTP status ${status ?? "missing"}, not a gRPC reply`)];
    if (!contentType.startsWith("application/grpc")) {
      return [new GrpcError("protocol", `${where}: content-type ${JSON.stringify(contentType)}, not application/grpc`)];
    }
    // A trailers-only reply carries grpc-status in the headers.
    const grpcStatus = header(trailers ?? {}, "grpc-status") ?? header(headers, "grpc-status");
    const grpcMessage = decodeGrpcMessage(header(trailers ?? {}, "grpc-message") ?? header(headers, "grpc-message") ?? "");
    if (grpcStatus === undefined) return [new GrpcError("protocol", `${where}: reply without grpc-status`)];
    const code = Number(grpcStatus);
    if (!Number.isInteger(code)) return [new GrpcError("protocol", `${where}: grpc-status ${JSON.stringify(grpcStatus)} is not a number`)];
    if (code !== 0) return [new GrpcError("status", `${where}: ${describeCode(code)}${grpcMessage ? `: ${grpcMessage}` : ""}`, code)];
    let messages: Buffer[];
    try {
      messages = unframeMessages(body);
    } catch (error) {
      return [new GrpcError("protocol", `${where}: ${errorText(error)}`)];
    }
    if (messages.length !== 1) return [new GrpcError("protocol", `${where}: ${messages.length} messages in a unary reply`)];
    return [undefined, messages[0]];
  }

  /** False once the connection failed or closed: make a new client. */
  get usable(): boolean {
    return !this.failure && !this.session.closed && !this.session.destroyed;
  }

  close(): void {
    if (!this.session.destroyed) this.session.destroy();
  }
}
