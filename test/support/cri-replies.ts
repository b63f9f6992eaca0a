/** CRI replies encoded with the upstream field numbers, for the fake gRPC server. */
import { ProtoWriter } from "../../src/host/protobuf.js";
import type { CriCondition } from "../../src/host/cri.js";

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
