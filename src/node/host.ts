/**
 * The node's filesystem seen through --host-root (default "/", "/host" in the
 * image, a fixture directory in tests).
 *
 * Symlinks are resolved here rather than by the kernel when the root is not
 * "/": kubelet writes absolute targets (kubelet-client-current.pem ->
 * /var/lib/kubelet/pki/kubelet-client-2026-….pem), and those must land inside
 * the root, as they would on the node, not on the agent's own filesystem.
 *
 * Nothing outside the root is read, /proc and /sys included: under a root
 * that is not "/" they are data like any other file (a node copy whose
 * proc/swaps links to /etc/shadow reads <root>/etc/shadow, never the agent's
 * machine's). Their magic links re-root the same way: /proc/<pid>/exe names
 * the binary inside the root, /proc/<pid>/root the root itself. After
 * resolving, files are opened with O_NOFOLLOW and stat'ed without following,
 * so a symlink swapped in between cannot lead out either.
 */
import { constants as fsConstants, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { FileStat, FsStats, Host, ReadOptions } from "../types.js";
import { errorText } from "../text/format.js";

export const DEFAULT_MAX_READ_BYTES = 4 * 1024 * 1024;
const MAX_SYMLINK_FOLLOWS = 40; // Linux's own limit (MAXSYMLINKS)

/** A node path could not be read; the message names the path and the problem. */
export class HostPathError extends Error {
  constructor(
    readonly nodePath: string,
    readonly code: string,
    readonly problem: string,
  ) {
    super(`${nodePath}: ${problem}`);
    this.name = "HostPathError";
  }
}

function errnoCode(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code;
  if (error instanceof Error && error.name === "AbortError") return "ABORT_ERR";
  return "EUNKNOWN";
}

const PROBLEMS: Record<string, string> = {
  ENOENT: "does not exist",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory, expected a file",
  ENOTDIR: "a parent of it is not a directory",
  ELOOP: "symlink loop",
  ABORT_ERR: "timed out while reading",
  EIO: "input/output error",
  ENXIO: "no such device or address",
};

export function describeFsError(nodePath: string, error: unknown): HostPathError {
  if (error instanceof HostPathError) return error;
  const code = errnoCode(error);
  const problem = PROBLEMS[code] ?? errorText(error);
  return new HostPathError(nodePath, code, problem);
}

function toFileStat(st: Stats): FileStat {
  const kind = st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : st.isDirectory() ? "directory" : st.isSocket() ? "socket" : "other";
  return { kind, size: st.size, mode: st.mode, uid: st.uid, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
}

/** The most node-doctor reads of one of its own inputs: its config, a kubeconfig, a certificate or CA bundle. */
export const MAX_OWN_FILE_BYTES = 1024 * 1024;

/**
 * The agent's own inputs (its --config, --kubeconfig and the files it names,
 * the service account's token and CA) read the way the node's files are:
 * through RootedHost, so only a regular file is read (a FIFO opens without
 * blocking and is refused, as are a directory, a device and a link to one,
 * /dev/zero included) and no more than maxBytes of it. Errors are
 * HostPathError naming the path and the problem. Relative paths are the
 * caller's working directory's.
 */
export function readOwnFile(filePath: string, maxBytes = MAX_OWN_FILE_BYTES, signal?: AbortSignal): Promise<string> {
  return OWN_FILES.readText(path.resolve(filePath), { maxBytes, ...(signal ? { signal } : {}) });
}

/** Normalises a node path to an absolute POSIX path without "..", "." or trailing "/". */
export function normalizeNodePath(nodePath: string): string {
  return path.posix.resolve("/", nodePath);
}

function abortPromise(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  return new Promise<never>((_, reject) => {
    const fail = () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

export class RootedHost implements Host {
  readonly root: string;
  /** statfs calls still pending per path: a hung mount must not eat the thread pool. */
  private readonly pendingStatfs = new Map<string, Promise<FsStats>>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  local(nodePath: string): string {
    const normalized = normalizeNodePath(nodePath);
    return this.root === "/" ? normalized : path.join(this.root, normalized);
  }

  async resolve(nodePath: string): Promise<string> {
    const normalized = normalizeNodePath(nodePath);
    // The kernel resolves correctly when the root is "/".
    if (this.root === "/") return normalized;
    // Most paths hold no symlink: one realpath that lands exactly where the
    // literal path points proves it, in one thread-pool hop instead of an
    // lstat per component (the agent resolves every file it reads, every run).
    if (await this.isLiteral(normalized)) return normalized;
    const pending = normalized.split("/").filter(Boolean);
    const done: string[] = [];
    let follows = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === "." || part === "") continue;
      if (part === "..") {
        done.pop(); // cannot climb above the root, as with chroot
        continue;
      }
      const candidate = "/" + [...done, part].join("/");
      let st: Stats;
      try {
        st = await fs.lstat(this.local(candidate));
      } catch (error) {
        if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") {
          return "/" + [...done, part, ...pending].join("/");
        }
        throw describeFsError(nodePath, error);
      }
      if (!st.isSymbolicLink()) {
        done.push(part);
        continue;
      }
      if (++follows > MAX_SYMLINK_FOLLOWS) throw new HostPathError(nodePath, "ELOOP", "symlink loop");
      let target: string;
      try {
        target = await fs.readlink(this.local(candidate));
      } catch (error) {
        // Replaced between lstat and readlink (kubelet rotating a symlink): resolve again from the start.
        if (errnoCode(error) === "ENOENT" || errnoCode(error) === "EINVAL") {
          pending.unshift(part);
          continue;
        }
        throw describeFsError(nodePath, error);
      }
      if (target.startsWith("/")) done.length = 0;
      pending.unshift(...target.split("/"));
    }
    return "/" + done.join("/");
  }

  private realRoot?: Promise<string | undefined>;

  /**
   * True when no component of the path (below the root) is a symlink: it
   * exists and realpath lands on it, or only its last component is missing
   * (nothing there, not even a dangling link) under a parent that is itself
   * literal. Probing for files that are not there is most of what the agent
   * reads; the walk would lstat every component of each.
   */
  private async isLiteral(normalized: string): Promise<boolean> {
    this.realRoot ??= fs.realpath(this.root).catch(() => undefined);
    const realRoot = await this.realRoot;
    if (realRoot === undefined) return false;
    const real = (p: string) => (realRoot === "/" ? p : path.join(realRoot, p));
    try {
      return (await fs.realpath(this.local(normalized))) === real(normalized);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT" || normalized === "/") return false; // unreadable or a loop: the walk explains it
    }
    const parent = path.posix.dirname(normalized);
    try {
      if ((await fs.realpath(this.local(parent))) !== real(parent)) return false;
    } catch {
      return false;
    }
    try {
      await fs.lstat(this.local(normalized));
      return false; // a dangling symlink: the walk names its target
    } catch (error) {
      return errnoCode(error) === "ENOENT";
    }
  }

  /** Resolves and explains a missing target: "dangling symlink to X" beats "does not exist". */
  private async localResolved(nodePath: string): Promise<string> {
    const resolved = await this.resolve(nodePath);
    return this.local(resolved);
  }

  private async explainMissing(nodePath: string, error: unknown): Promise<HostPathError> {
    if (errnoCode(error) === "ENOENT") {
      try {
        const st = await fs.lstat(this.local(nodePath));
        if (st.isSymbolicLink()) {
          const target = await fs.readlink(this.local(nodePath));
          return new HostPathError(nodePath, "ENOENT", `dangling symlink to ${target}, which does not exist`);
        }
      } catch {
        // fall through to the plain description
      }
    }
    return describeFsError(nodePath, error);
  }

  async readBytes(nodePath: string, options: ReadOptions = {}): Promise<Buffer> {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    let handle: fs.FileHandle | undefined;
    try {
      options.signal?.throwIfAborted();
      handle = await this.openResolved(nodePath);
      const st = await handle.stat();
      if (st.isDirectory()) throw new HostPathError(nodePath, "EISDIR", "is a directory, expected a file");
      if (!st.isFile()) throw new HostPathError(nodePath, "ENOTFILE", "is not a regular file");
      if (st.size > maxBytes) {
        throw new HostPathError(nodePath, "EFBIG", `is ${st.size} bytes, more than the ${maxBytes} node-doctor reads`);
      }
      // /proc files report size 0: read in chunks up to the limit.
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        options.signal?.throwIfAborted();
        const chunk = Buffer.allocUnsafe(Math.min(65536, maxBytes + 1 - total));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        chunks.push(chunk.subarray(0, bytesRead));
        total += bytesRead;
        if (total > maxBytes) {
          throw new HostPathError(nodePath, "EFBIG", `is more than the ${maxBytes} bytes node-doctor reads`);
        }
        // A short read at or past the size stat gave is the end of a regular file: no read for the 0
        // (one thread-pool round trip of the six a read costs). /proc's size-0 files read on to the 0.
        if (bytesRead < chunk.length && st.size > 0 && total >= st.size) break;
      }
      return Buffer.concat(chunks, total);
    } catch (error) {
      throw await this.explainMissing(nodePath, error);
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  /**
   * Opens the resolved file without following a final symlink when the root
   * is not "/" (resolve() left none: one now was swapped in since, so resolve
   * once more). O_NONBLOCK: a FIFO opens at once and is refused as not a file.
   */
  private async openResolved(nodePath: string): Promise<fs.FileHandle> {
    const flags = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK;
    if (this.root === "/") return fs.open(this.local(normalizeNodePath(nodePath)), flags);
    for (let attempt = 0; ; attempt++) {
      try {
        return await fs.open(await this.localResolved(nodePath), flags | fsConstants.O_NOFOLLOW);
      } catch (error) {
        if (errnoCode(error) !== "ELOOP" || attempt > 0) throw error;
      }
    }
  }

  async readText(nodePath: string, options: ReadOptions = {}): Promise<string> {
    return (await this.readBytes(nodePath, options)).toString("utf8");
  }

  async readLink(nodePath: string): Promise<string> {
    try {
      return await fs.readlink(this.local(await this.resolveParent(nodePath)));
    } catch (error) {
      throw describeFsError(nodePath, error);
    }
  }

  /** Resolves every component but the last, so lstat/readlink see the link itself. */
  private async resolveParent(nodePath: string): Promise<string> {
    const normalized = normalizeNodePath(nodePath);
    if (normalized === "/") return normalized;
    const parent = await this.resolve(path.posix.dirname(normalized));
    return path.posix.join(parent, path.posix.basename(normalized));
  }

  async stat(nodePath: string): Promise<FileStat> {
    try {
      // Under another root the resolved path holds no symlink; lstat keeps a swapped-in one from leading out.
      return toFileStat(await (this.root === "/" ? fs.stat : fs.lstat)(await this.localResolved(nodePath)));
    } catch (error) {
      throw await this.explainMissing(nodePath, error);
    }
  }

  async lstat(nodePath: string): Promise<FileStat> {
    try {
      return toFileStat(await fs.lstat(this.local(await this.resolveParent(nodePath))));
    } catch (error) {
      throw describeFsError(nodePath, error);
    }
  }

  async list(nodePath: string): Promise<string[]> {
    try {
      return (await fs.readdir(await this.localResolved(nodePath))).sort();
    } catch (error) {
      throw await this.explainMissing(nodePath, error);
    }
  }

  async exists(nodePath: string): Promise<boolean> {
    try {
      await fs.access(await this.localResolved(nodePath));
      return true;
    } catch {
      return false;
    }
  }

  async statfs(nodePath: string, signal?: AbortSignal): Promise<FsStats> {
    const normalized = normalizeNodePath(nodePath);
    let pending = this.pendingStatfs.get(normalized);
    if (!pending) {
      // statfs on a hung NFS mount blocks a libuv thread until the kernel
      // gives up; issue at most one per path at a time and let callers time out.
      pending = this.localResolved(normalized)
        .then((local) => fs.statfs(local))
        .then((st) => ({
          availableBytes: st.bavail * st.bsize,
          sizeBytes: st.blocks * st.bsize,
          filesFree: st.ffree,
          files: st.files,
          type: st.type,
        }))
        .finally(() => this.pendingStatfs.delete(normalized));
      this.pendingStatfs.set(normalized, pending);
    }
    try {
      const abort = abortPromise(signal);
      return await (abort ? Promise.race([pending, abort]) : pending);
    } catch (error) {
      throw await this.explainMissing(normalized, error);
    }
  }
}

const OWN_FILES = new RootedHost("/");
