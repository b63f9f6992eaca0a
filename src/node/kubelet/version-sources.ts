/**
 * Where kubelet's version is read on a node, without running kubelet: the
 * package databases (dpkg's status text; RPM's database, whose header blobs
 * hold NAME, VERSION and RELEASE as consecutive strings in both the SQLite
 * and the BerkeleyDB formats), a distribution's own record
 * (/etc/eks/kubelet-version.txt: `kubelet --version` at image build), an
 * RKE2 data directory named after its release, and the kubelet binary
 * itself: Kubernetes' builds stamp `-X k8s.io/component-base/version.gitVersion=v1.30.4`
 * into the binary (and Go records the -ldflags in its build info), found by
 * scanning the file once per path, size and mtime.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import type { Host } from "../../types.js";
import { throwIfOwnFailure } from "../could-not-look.js";
import { DPKG_STATUS_PATH, dpkgPackageVersion } from "../packages.js";
import { parseKubeVersion, type VersionFact } from "./version.js";
import { FileCache, statSignature } from "../file-cache.js";

export const RPM_DATABASES = ["/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/Packages"];

/** A kubelet binary is 50–120 MiB; more than this is not scanned. */
const MAX_BINARY_BYTES = 256 * 1024 * 1024;
const MAX_DATABASE_BYTES = 512 * 1024 * 1024;
const CHUNK = 1024 * 1024;
/** Longer than any stamp it looks for. */
const OVERLAP = 256;

/** The newest version in RPM header blobs ("\0kubelet\0<version>\0<release>\0") within a chunk of the database's bytes. */
export function rpmPackageVersion(bytes: Buffer | string, name: string): string | undefined {
  const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  const needle = Buffer.from(`\0${name}\0`, "latin1");
  let best: string | undefined;
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + 1)) {
    const start = at + needle.length;
    const end = data.indexOf(0, start);
    const releaseEnd = end < 0 ? -1 : data.indexOf(0, end + 1);
    if (end < 0 || releaseEnd < 0 || end - start > 64 || releaseEnd - end > 80) continue;
    const version = data.toString("latin1", start, end);
    const release = data.toString("latin1", end + 1, releaseEnd);
    if (!/^\d+\.\d+\.\d+$/.test(version) || !/^[\w.+~]+$/.test(release)) continue;
    // Several headers (an upgrade leaves the old one until it is reclaimed): the newest wins.
    const candidate = `${version}-${release}`;
    if (!best || compareVersions(candidate, best) > 0) best = candidate;
  }
  return best;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number(p) || 0);
  const pb = b.split(/[.-]/).map((p) => Number(p) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

const STAMP = Buffer.from("k8s.io/component-base/version.gitVersion=", "latin1");

/** The gitVersion Kubernetes' build stamps into a binary, from a chunk of its bytes (searched as bytes: no string of the chunk is made). */
export function stampedVersion(bytes: Buffer | string): string | undefined {
  const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  for (let at = data.indexOf(STAMP); at >= 0; at = data.indexOf(STAMP, at + 1)) {
    const value = /^v\d+\.\d+\.\d+[0-9A-Za-z.+~-]*/.exec(data.toString("latin1", at + STAMP.length, Math.min(data.length, at + STAMP.length + 64)))?.[0];
    if (value) return value;
  }
  return undefined;
}

/** A regular file's stat signature; undefined when there is no such file. */
async function fileSignature(host: Host, path: string): Promise<string | undefined> {
  try {
    const st = await host.stat(path);
    return st.kind === "file" ? statSignature(st) : undefined;
  } catch (error) {
    throwIfOwnFailure(error, path);
    return undefined;
  }
}

/**
 * Scans a file in 1 MiB chunks (overlapping, so a match across a boundary is found), stopping at the first
 * match: a 100 MiB kubelet binary costs 1 MiB of memory, once per path, size and mtime.
 */
async function scanFile(
  host: Host,
  path: string,
  maxBytes: number,
  find: (chunk: Buffer) => string | undefined,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const handle = await open(host.local(await host.resolve(path)), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.allocUnsafe(CHUNK + OVERLAP);
    let carried = 0;
    for (let offset = 0; offset < maxBytes;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, carried, CHUNK, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      const end = carried + bytesRead;
      const found = find(buffer.subarray(0, end));
      if (found) return found;
      carried = Math.min(OVERLAP, end);
      buffer.copy(buffer, 0, end - carried, end);
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * kubelet's version from the node's files, each source cached by the file's
 * identity: the package databases are re-read only when they change, and a
 * binary is scanned once per path, size and mtime.
 */
export class KubeletVersionSources {
  private readonly cache = new FileCache<VersionFact | undefined>(16);

  constructor(private readonly host: Host) {}

  /** Files read to find a version (tests and benches read it): a source is read again only when it changes. */
  get reads(): number {
    return this.cache.parses;
  }

  private async cached(path: string, compute: () => Promise<VersionFact | undefined>): Promise<VersionFact | undefined> {
    const signature = await fileSignature(this.host, path);
    if (signature === undefined) return undefined;
    return this.cache.through(path, signature, async () => {
      try {
        return await compute();
      } catch (error) {
        throwIfOwnFailure(error, path);
        return undefined; // unreadable or too large: this source says nothing
      }
    });
  }

  /** The first source that knows, in the order of what kubelet's next start runs: packages, the distribution's record, the binary. */
  async find(options: { binaries: readonly string[]; versionFile?: string; signal?: AbortSignal }): Promise<VersionFact | undefined> {
    const { signal } = options;
    const dpkg = await this.cached(DPKG_STATUS_PATH, async () => {
      const text = await this.host.readText(DPKG_STATUS_PATH, { maxBytes: 32 * 1024 * 1024, ...(signal ? { signal } : {}) });
      const version = dpkgPackageVersion(text, "kubelet");
      const parsed = version ? parseKubeVersion(version) : undefined;
      return parsed ? { version: parsed, source: `${DPKG_STATUS_PATH}, package kubelet ${version}` } : undefined;
    });
    if (dpkg) return dpkg;
    for (const db of RPM_DATABASES) {
      const rpm = await this.cached(db, async () => {
        let version: string | undefined;
        await scanFile(
          this.host,
          db,
          MAX_DATABASE_BYTES,
          (chunk) => {
            const found = rpmPackageVersion(chunk, "kubelet");
            if (found && (!version || compareVersions(found, version) > 0)) version = found;
            return undefined; // read it all: the newest header wins
          },
          signal,
        );
        const parsed = version ? parseKubeVersion(version) : undefined;
        return parsed ? { version: parsed, source: `${db}, package kubelet ${version}` } : undefined;
      });
      if (rpm) return rpm;
    }
    if (options.versionFile) {
      const file = options.versionFile;
      const recorded = await this.cached(file, async () => {
        const text = await this.host.readText(file, { maxBytes: 4096, ...(signal ? { signal } : {}) });
        const raw = /v?\d+\.\d+\.\d+[0-9A-Za-z.+~-]*/.exec(text)?.[0];
        const parsed = raw ? parseKubeVersion(raw) : undefined;
        return parsed ? { version: parsed, source: `${file} (${text.trim().slice(0, 80)})` } : undefined;
      });
      if (recorded) return recorded;
    }
    for (const binary of options.binaries) {
      // RKE2 runs kubelet from a directory named after its release.
      const fromPath = /\/data\/(v\d+\.\d+\.\d+[^/]*?)-[0-9a-f]{8,}\/bin\//.exec(binary)?.[1];
      const parsedPath = fromPath ? parseKubeVersion(fromPath) : undefined;
      if (parsedPath) return { version: parsedPath, source: `the path of ${binary}` };
      const stamped = await this.cached(binary, async () => {
        const raw = await scanFile(this.host, binary, MAX_BINARY_BYTES, stampedVersion, signal);
        const parsed = raw ? parseKubeVersion(raw) : undefined;
        return parsed ? { version: parsed, source: `the version stamped into ${binary} (${raw})` } : undefined;
      });
      if (stamped) return stamped;
    }
    return undefined;
  }
}
