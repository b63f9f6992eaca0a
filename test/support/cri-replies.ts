/** CRI replies encoded with the upstream field numbers, for the fake gRPC server. */
import { ProtoWriter } from "../../src/wire/protobuf.js";
import { CRI_PATHS, type CriCondition } from "../../src/wire/cri.js";
import type { GrpcReply } from "./socket-servers.js";

export function versionReply(runtimeName = "containerd", runtimeVersion = "1.7.22"): Uint8Array {
  return new ProtoWriter().string(1, "0.1.0").string(2, runtimeName).string(3, runtimeVersion).string(4, "v1").finish();
}

export function statusReply(conditions: CriCondition[]): Uint8Array {
  const status = new ProtoWriter();
  for (const c of conditions) {
    status.message(1, new ProtoWriter().string(1, c.type).bool(2, c.status).string(3, c.reason).string(4, c.message).finish());
  }
  // info (2) as a verbose runtime would send it: the client must skip it.
  const info = new ProtoWriter().string(1, "config").string(2, '{"x":1}').finish();
  return new ProtoWriter().message(1, status.finish()).message(2, info).finish();
}

export function imageFsReply(mountpoint: string, usedBytes: number, inodesUsed: number): Uint8Array {
  const usage = new ProtoWriter()
    .uint(1, 1_700_000_000_000)
    .message(2, new ProtoWriter().string(1, mountpoint).finish())
    .message(3, new ProtoWriter().uint(1, usedBytes).finish())
    .message(4, new ProtoWriter().uint(1, inodesUsed).finish())
    .finish();
  return new ProtoWriter().message(1, usage).finish();
}

export const READY: CriCondition[] = [
  { type: "RuntimeReady", status: true, reason: "", message: "" },
  { type: "NetworkReady", status: true, reason: "", message: "" },
];

/** ListContainersResponse with `count` containers (id, sandbox id, state RUNNING). */
export function containersReply(count: number): Uint8Array {
  const list = new ProtoWriter();
  for (let i = 0; i < count; i++) list.message(1, new ProtoWriter().string(1, `c${i}`.padEnd(64, "0")).string(2, `s${i}`).uint(6, 1).finish());
  return list.finish();
}

/** A healthy runtime's replies to every call the check makes; override some to make it sick. */
export function runtimeReplies(overrides: Partial<Record<keyof typeof CRI_PATHS, GrpcReply>> = {}): Record<string, GrpcReply> {
  const replies: Record<keyof typeof CRI_PATHS, GrpcReply> = {
    Version: { kind: "ok", message: versionReply() },
    Status: { kind: "ok", message: statusReply(READY) },
    ListContainers: { kind: "ok", message: containersReply(3) },
    ImageFsInfo: { kind: "ok", message: imageFsReply("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", 1024, 10) },
    ...overrides,
  };
  return Object.fromEntries(Object.entries(replies).map(([method, reply]) => [CRI_PATHS[method as keyof typeof CRI_PATHS], reply]));
}
