/**
 * Misbehaving unix-socket servers for the runtime check: one that accepts and
 * never answers, one that accepts late (a proxy in front of a real runtime), one that is not gRPC, one that writes garbage, a dead
 * socket nobody listens on, and a small gRPC server on node:http2 that answers
 * CRI calls with chosen replies (UNIMPLEMENTED, undecodable bytes, …).
 * Each returns close(); tests call it in after/afterEach.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { dirname } from "node:path";
import { frameMessage } from "../../src/wire/grpc.js";

export interface TestServer {
  close(): Promise<void>;
}

async function listen(server: net.Server | http.Server | http2.Http2Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
}

function closer(server: net.Server | http.Server | http2.Http2Server, sockets: Set<net.Socket | http2.ServerHttp2Session>): TestServer {
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts connections and never writes a byte (a runtime stuck in a lock). */
export async function hungServer(path: string): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await listen(server, path);
  return closer(server, sockets);
}

/** Forwards each connection to `target` after `delayMs`: a runtime slow to accept (under load, or starting). */
export async function slowProxy(path: string, target: string, delayMs: number): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    socket.pause();
    const timer = setTimeout(() => {
      const upstream = net.connect(target);
      sockets.add(upstream);
      upstream.on("error", () => socket.destroy());
      upstream.on("close", () => {
        sockets.delete(upstream);
        socket.destroy();
      });
      socket.on("close", () => upstream.destroy());
      socket.pipe(upstream).pipe(socket);
      socket.resume();
    }, delayMs);
    socket.on("close", () => clearTimeout(timer));
  });
  await listen(server, path);
  return closer(server, sockets);
}

/** Answers with bytes that are neither HTTP/2 nor anything else. */
export async function garbageServer(path: string): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    socket.end(Buffer.from("\x00\xff\x13garbage\x00\x00\x00\x04\x01not-a-frame\r\n".repeat(8), "latin1"));
  });
  await listen(server, path);
  return closer(server, sockets);
}

/** An HTTP/1.1 server (e.g. a Docker engine socket given as the CRI endpoint). */
export async function http1Server(path: string): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.end('{"message":"page not found"}'));
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await listen(server, path);
  return closer(server, sockets);
}

/** A socket file left by a process that died: connect() is refused. */
export async function deadSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`socket holder exited early (${code})`)));
  });
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  if (!existsSync(path)) throw new Error(`${path} vanished with its process; cannot make a dead socket`);
}

export type GrpcReply =
  | { kind: "ok"; message: Uint8Array }
  | { kind: "error"; status: number; grpcMessage?: string }
  /** Raw body bytes after status OK, e.g. a frame cut short. */
  | { kind: "raw"; body: Uint8Array }
  /** Send headers, then nothing: hangs mid-call. */
  | { kind: "hang" };

/** A gRPC server on HTTP/2 answering each method path with the given reply (UNIMPLEMENTED otherwise). */
export async function grpcServer(path: string, replies: Record<string, GrpcReply>): Promise<TestServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => undefined);
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => undefined);
    stream.resume();
    stream.on("end", () => {
      const reply: GrpcReply = replies[String(headers[":path"])] ?? { kind: "error", status: 12, grpcMessage: `unknown method ${String(headers[":path"])}` };
      if (reply.kind === "hang") {
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        return;
      }
      if (reply.kind === "error") {
        // Trailers-only reply, as grpc-go sends for errors.
        stream.respond(
          {
            ":status": 200,
            "content-type": "application/grpc",
            "grpc-status": String(reply.status),
            "grpc-message": encodeURIComponent(reply.grpcMessage ?? ""),
          },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(reply.kind === "raw" ? reply.body : frameMessage(reply.message));
    });
  });
  await listen(server, path);
  return closer(server, sessions);
}
