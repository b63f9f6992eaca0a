/**
 * The hand-written protobuf and gRPC pieces behind the runtime check: CRI
 * messages decode with the upstream field numbers, hostile bytes give a
 * ProtoError and nothing else, and the gRPC client reports each way a socket
 * can misbehave as a GrpcError of the right kind, within its deadline.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  countContainers,
  CRI_PATHS,
  CriClient,
  decodeImageFsInfoResponse,
  decodeStatusResponse,
  decodeVersionResponse,
  encodeListRunningContainersRequest,
} from "../../src/wire/cri.js";
import { GrpcError } from "../../src/wire/grpc.js";
import { ProtoError, ProtoWriter, readFields } from "../../src/wire/protobuf.js";
import { containersReply, imageFsReply, READY, statusReply, versionReply } from "../support/cri-replies.js";
import { deadSocket, garbageServer, grpcServer, http1Server, hungServer, type TestServer } from "../support/socket-servers.js";

let dir: string;
const servers: TestServer[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "node-doctor-grpc-"));
});
after(async () => {
  for (const s of servers) await s.close();
  await rm(dir, { recursive: true, force: true });
});

async function callError(socket: string, timeoutMs = 500): Promise<GrpcError> {
  const client = new CriClient(socket);
  try {
    await client.version({ timeoutMs });
  } catch (error) {
    assert.ok(error instanceof GrpcError, `expected a GrpcError, got ${String(error)}`);
    return error;
  } finally {
    client.close();
  }
  throw new Error("the call succeeded");
}

describe("CRI messages", () => {
  it("decode Version, Status and ImageFsInfo with the upstream field numbers", () => {
    assert.deepEqual(decodeVersionResponse(versionReply("cri-o", "1.30.4")), {
      version: "0.1.0",
      runtimeName: "cri-o",
      runtimeVersion: "1.30.4",
      runtimeApiVersion: "v1",
    });
    const status = decodeStatusResponse(
      statusReply([
        READY[0]!,
        { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: "Network plugin returns error: cni plugin not initialized" },
      ]),
    );
    assert.deepEqual(status.conditions[1], {
      type: "NetworkReady",
      status: false,
      reason: "NetworkPluginNotReady",
      message: "Network plugin returns error: cni plugin not initialized",
    });
    assert.equal(status.conditions[0]?.status, true);
    const fs = decodeImageFsInfoResponse(imageFsReply("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", 5 * 2 ** 40, 123456));
    assert.equal(fs.imageFilesystems[0]?.mountpoint, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs");
    assert.equal(fs.imageFilesystems[0]?.usedBytes, 5 * 2 ** 40, "byte counts beyond 32 bits survive");
    assert.equal(fs.imageFilesystems[0]?.inodesUsed, 123456);
  });

  it("ListContainers asks for running containers only, and its reply is counted without decoding each container", () => {
    // filter(1) { state(2) { state(1) = CONTAINER_RUNNING } }
    assert.deepEqual([...encodeListRunningContainersRequest()], [0x0a, 0x04, 0x12, 0x02, 0x08, 0x01]);
    assert.equal(countContainers(containersReply(0)), 0);
    assert.equal(countContainers(containersReply(250)), 250);
  });

  it("an empty Status reply has no conditions (the check then treats both as not ready)", () => {
    assert.deepEqual(decodeStatusResponse(new Uint8Array()), { conditions: [] });
  });

  it("truncated and mistyped replies are ProtoErrors that say where", () => {
    const full = versionReply();
    assert.throws(
      () => decodeVersionResponse(full.subarray(0, full.length - 1)),
      (e: unknown) => e instanceof ProtoError && /claims \d+ bytes/.test(e.message),
    );
    const wrongType = new ProtoWriter().uint(2, 7).finish(); // runtime_name as a varint
    assert.throws(
      () => decodeVersionResponse(wrongType),
      (e: unknown) => e instanceof ProtoError && /field 2 has wire type 0/.test(e.message),
    );
    assert.throws(() => readFields(Uint8Array.from([0x0b])), ProtoError); // a group start
    assert.throws(() => readFields(Uint8Array.from(Array(11).fill(0xff))), /varint longer than 10 bytes/);
  });

  it("ProtoWriter refuses what a varint cannot carry: negative, fractional, unsafe and non-finite numbers", () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity]) {
      assert.throws(() => new ProtoWriter().uint(1, bad), /protobuf varint: .* is not a non-negative integer/, String(bad));
    }
    assert.throws(() => new ProtoWriter().string(-1, "x"), RangeError, "a negative field number too");
    const max = new ProtoWriter().uint(1, Number.MAX_SAFE_INTEGER).finish();
    assert.equal(readFields(max)[0]?.value, Number.MAX_SAFE_INTEGER);
  });

  it("hostile bytes never escape as anything but a ProtoError, in bounded time", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const started = performance.now();
        for (const decode of [decodeVersionResponse, decodeStatusResponse, decodeImageFsInfoResponse, countContainers]) {
          try {
            decode(bytes);
          } catch (error) {
            assert.ok(error instanceof ProtoError, `not a ProtoError: ${String(error)}`);
          }
        }
        assert.ok(performance.now() - started < 200);
      }),
      { numRuns: 500, seed: 20261125 },
    );
  });
});

describe("gRPC over a unix socket", () => {
  it("round-trips three calls on one connection to a gRPC server", async () => {
    const socket = join(dir, "ok.sock");
    servers.push(
      await grpcServer(socket, {
        [CRI_PATHS.Version]: { kind: "ok", message: versionReply() },
        [CRI_PATHS.Status]: { kind: "ok", message: statusReply(READY) },
        [CRI_PATHS.ImageFsInfo]: { kind: "ok", message: imageFsReply("/var/lib/containerd", 42, 7) },
      }),
    );
    const client = new CriClient(socket);
    try {
      assert.equal((await client.version({ timeoutMs: 2000 })).runtimeName, "containerd");
      assert.equal((await client.status({ timeoutMs: 2000 })).conditions.length, 2);
      assert.equal((await client.imageFsInfo({ timeoutMs: 2000 })).imageFilesystems[0]?.usedBytes, 42);
    } finally {
      client.close();
    }
  });

  it("a socket that accepts and never answers times out at the deadline", async () => {
    const socket = join(dir, "hung.sock");
    servers.push(await hungServer(socket));
    const started = performance.now();
    const error = await callError(socket, 300);
    const elapsed = performance.now() - started;
    assert.equal(error.kind, "timeout");
    assert.match(error.message, /no answer to \/runtime\.v1\.RuntimeService\/Version within 300 ms/);
    assert.ok(elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
  });

  it("a gRPC server that sends headers then stalls times out too", async () => {
    const socket = join(dir, "stall.sock");
    servers.push(await grpcServer(socket, { [CRI_PATHS.Version]: { kind: "hang" } }));
    assert.equal((await callError(socket, 300)).kind, "timeout");
  });

  it("the caller's signal ends a call at once", async () => {
    const socket = join(dir, "hung2.sock");
    servers.push(await hungServer(socket));
    const client = new CriClient(socket);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(client.version({ timeoutMs: 10_000, signal: controller.signal }), (e: unknown) => e instanceof GrpcError && e.kind === "aborted");
    client.close();
  });

  it("a missing socket, a dead socket and a regular file are told apart", async () => {
    assert.equal((await callError(join(dir, "nothing.sock"))).kind, "missing");
    const dead = join(dir, "dead.sock");
    await deadSocket(dead);
    const refused = await callError(dead);
    assert.equal(refused.kind, "refused");
    assert.match(refused.message, /connection refused/);
    const file = join(dir, "file.sock");
    await writeFile(file, "");
    assert.equal((await callError(file)).kind, "refused");
  });

  it("an HTTP/1.1 server and a garbage writer are protocol errors, not crashes", async () => {
    const h1 = join(dir, "h1.sock");
    servers.push(await http1Server(h1));
    const e1 = await callError(h1, 2000);
    assert.ok(e1.kind === "protocol" || e1.kind === "closed", `${e1.kind}: ${e1.message}`);
    const junk = join(dir, "junk.sock");
    servers.push(await garbageServer(junk));
    const e2 = await callError(junk, 2000);
    assert.ok(e2.kind === "protocol" || e2.kind === "closed", `${e2.kind}: ${e2.message}`);
  });

  it("a gRPC status is reported with its name and message", async () => {
    const socket = join(dir, "unimpl.sock");
    servers.push(await grpcServer(socket, {}));
    const error = await callError(socket, 2000);
    assert.equal(error.kind, "status");
    assert.equal(error.code, 12);
    assert.match(error.message, /UNIMPLEMENTED: unknown method \/runtime\.v1\.RuntimeService\/Version/);
  });

  it("whatever bytes a socket answers with, the client ends with a GrpcError, within its deadline", async () => {
    const socket = join(dir, "fuzz.sock");
    let next = Buffer.alloc(0);
    const conns = new Set<net.Socket>();
    const server = net.createServer((conn) => {
      conns.add(conn);
      conn.on("close", () => conns.delete(conn));
      conn.on("error", () => undefined);
      conn.resume(); // read what the client sends, so its close is seen
      conn.end(next);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            // An HTTP/2 SETTINGS frame, then junk: gets past the preface.
            fc.uint8Array({ maxLength: 200 }).map((junk) => Buffer.concat([Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), junk])),
          ),
          async (bytes) => {
            next = Buffer.from(bytes);
            const started = performance.now();
            const error = await callError(socket, 500);
            assert.ok(["protocol", "closed", "timeout"].includes(error.kind), `${error.kind}: ${error.message}`);
            assert.ok(performance.now() - started < 1500);
          },
        ),
        { numRuns: 40, seed: 20261125 },
      );
    } finally {
      // The client's close reaches the server a moment later.
      for (let i = 0; i < 50 && conns.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
      const open = conns.size;
      for (const c of conns) c.destroy();
      await new Promise((resolve) => server.close(resolve));
      assert.equal(open, 0, "every connection the client opened was closed by it");
    }
  });

  it("reads a reply of 12 MiB (kubelet accepts up to 16 MiB) and refuses one over 16 MiB", async () => {
    const socket = join(dir, "big.sock");
    const big = (bytes: number) => new ProtoWriter().string(1, "0.1.0").string(2, "x".repeat(bytes)).string(4, "v1").finish();
    servers.push(
      await grpcServer(socket, {
        [CRI_PATHS.Version]: { kind: "ok", message: big(12 * 1024 * 1024) },
        [CRI_PATHS.Status]: { kind: "ok", message: big(17 * 1024 * 1024) },
      }),
    );
    const client = new CriClient(socket);
    try {
      assert.equal((await client.version({ timeoutMs: 10_000 })).runtimeName.length, 12 * 1024 * 1024);
      await assert.rejects(client.status({ timeoutMs: 10_000 }), (error: unknown) => {
        assert.ok(error instanceof GrpcError);
        assert.equal(error.kind, "protocol");
        assert.match(error.message, /exceeds 16777216 bytes/);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it("a cut-short gRPC frame is a protocol error naming the sizes", async () => {
    const socket = join(dir, "short.sock");
    const frame = Buffer.from([0, 0, 0, 0, 50, 1, 2, 3]);
    servers.push(await grpcServer(socket, { [CRI_PATHS.Version]: { kind: "raw", body: frame } }));
    const error = await callError(socket, 2000);
    assert.equal(error.kind, "protocol");
    assert.match(error.message, /claims 50 bytes, only 3 arrived/);
  });
});
