/**
 * The CRI calls node-doctor makes, hand-encoded: RuntimeService.Version,
 * RuntimeService.Status (verbose=false), RuntimeService.ListContainers (only
 * counted) and ImageService.ImageFsInfo, in the
 * `runtime.v1` API kubelet speaks. Field numbers are those of
 * k8s.io/cri-api pkg/apis/runtime/v1/api.proto; fields we do not read are
 * skipped, so newer runtimes that add fields still decode.
 */
import { GrpcUnixClient } from "./grpc.js";
import { boolField, lastBytes, ProtoWriter, readFields, repeatedBytes, stringField, uintField } from "./protobuf.js";

export const CRI_PATHS = {
  Version: "/runtime.v1.RuntimeService/Version",
  Status: "/runtime.v1.RuntimeService/Status",
  ListContainers: "/runtime.v1.RuntimeService/ListContainers",
  ImageFsInfo: "/runtime.v1.ImageService/ImageFsInfo",
} as const;
export type CriMethod = keyof typeof CRI_PATHS;

/** The CRI API version kubelet announces in VersionRequest.version. */
const KUBELET_RUNTIME_API_VERSION = "0.1.0";

/** VersionResponse: version=1, runtime_name=2, runtime_version=3, runtime_api_version=4. */
export interface CriVersion {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** RuntimeCondition: type=1, status=2, reason=3, message=4. */
export interface CriCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/** StatusResponse: status=1 (RuntimeStatus: conditions=1); info=2 and later fields are not read. */
export interface CriStatus {
  conditions: CriCondition[];
}

/**
 * FilesystemUsage: timestamp=1, fs_id=2 (FilesystemIdentifier: mountpoint=1),
 * used_bytes=3 and inodes_used=4 (UInt64Value: value=1).
 */
export interface CriFilesystemUsage {
  timestampNs: number;
  mountpoint: string;
  usedBytes?: number;
  inodesUsed?: number;
}

/** ImageFsInfoResponse: image_filesystems=1, container_filesystems=2. */
export interface CriImageFsInfo {
  imageFilesystems: CriFilesystemUsage[];
  containerFilesystems: CriFilesystemUsage[];
}

export function encodeVersionRequest(): Uint8Array {
  return new ProtoWriter().string(1, KUBELET_RUNTIME_API_VERSION).finish();
}

export function encodeStatusRequest(verbose = false): Uint8Array {
  return new ProtoWriter().bool(1, verbose).finish();
}

/** ContainerState.CONTAINER_RUNNING. */
const CONTAINER_RUNNING = 1;

/** ListContainersRequest: filter=1 (ContainerFilter: state=2 (ContainerStateValue: state=1)). */
export function encodeListRunningContainersRequest(): Uint8Array {
  const state = new ProtoWriter().uint(1, CONTAINER_RUNNING).finish();
  const filter = new ProtoWriter().message(2, state).finish();
  return new ProtoWriter().message(1, filter).finish();
}

/** ListContainersResponse: containers=1. Only counted: each Container is skipped, not decoded. */
export function countContainers(bytes: Uint8Array): number {
  return repeatedBytes(readFields(bytes), 1).length;
}

export function encodeImageFsInfoRequest(): Uint8Array {
  return new Uint8Array();
}

export function decodeVersionResponse(bytes: Uint8Array): CriVersion {
  const f = readFields(bytes);
  return { version: stringField(f, 1), runtimeName: stringField(f, 2), runtimeVersion: stringField(f, 3), runtimeApiVersion: stringField(f, 4) };
}

export function decodeStatusResponse(bytes: Uint8Array): CriStatus {
  const status = lastBytes(readFields(bytes), 1);
  if (!status) return { conditions: [] };
  const conditions = repeatedBytes(readFields(status), 1).map((raw) => {
    const c = readFields(raw);
    return { type: stringField(c, 1), status: boolField(c, 2), reason: stringField(c, 3), message: stringField(c, 4) };
  });
  return { conditions };
}

/** A UInt64Value wrapper: absent means "not reported", which differs from 0. */
function wrappedUint(fields: ReturnType<typeof readFields>, field: number): number | undefined {
  const raw = lastBytes(fields, field);
  return raw === undefined ? undefined : uintField(readFields(raw), 1);
}

function decodeFilesystemUsage(bytes: Uint8Array): CriFilesystemUsage {
  const f = readFields(bytes);
  const fsId = lastBytes(f, 2);
  const usage: CriFilesystemUsage = { timestampNs: uintField(f, 1), mountpoint: fsId ? stringField(readFields(fsId), 1) : "" };
  const used = wrappedUint(f, 3);
  const inodes = wrappedUint(f, 4);
  if (used !== undefined) usage.usedBytes = used;
  if (inodes !== undefined) usage.inodesUsed = inodes;
  return usage;
}

export function decodeImageFsInfoResponse(bytes: Uint8Array): CriImageFsInfo {
  const f = readFields(bytes);
  return {
    imageFilesystems: repeatedBytes(f, 1).map(decodeFilesystemUsage),
    containerFilesystems: repeatedBytes(f, 2).map(decodeFilesystemUsage),
  };
}

export interface CriCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A CRI connection; kept between rounds of calls while usable, close() it when done. */
export class CriClient {
  private readonly grpc: GrpcUnixClient;

  constructor(socketPath: string) {
    this.grpc = new GrpcUnixClient(socketPath);
  }

  async version(options: CriCallOptions): Promise<CriVersion> {
    return decodeVersionResponse(await this.grpc.unary(CRI_PATHS.Version, encodeVersionRequest(), options));
  }

  async status(options: CriCallOptions): Promise<CriStatus> {
    return decodeStatusResponse(await this.grpc.unary(CRI_PATHS.Status, encodeStatusRequest(false), options));
  }

  /** How many containers the runtime runs (the relist kubelet's PLEG does, without the details). */
  async runningContainers(options: CriCallOptions): Promise<number> {
    return countContainers(await this.grpc.unary(CRI_PATHS.ListContainers, encodeListRunningContainersRequest(), options));
  }

  async imageFsInfo(options: CriCallOptions): Promise<CriImageFsInfo> {
    return decodeImageFsInfoResponse(await this.grpc.unary(CRI_PATHS.ImageFsInfo, encodeImageFsInfoRequest(), options));
  }

  get usable(): boolean {
    return this.grpc.usable;
  }

  close(): void {
    this.grpc.close();
  }
}
