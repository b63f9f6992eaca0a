/**
 * A Host that remembers every node path the checks ask it for, whatever the
 * method (read, stat, list, statfs, or local() for a socket or a journal
 * directory), so a test can tell which of the node's paths the agent needs
 * to see: test/charts/host-mounts.test.ts holds them against the chart's
 * mounts. Everything is answered by the RootedHost underneath.
 */
import { RootedHost, normalizeNodePath } from "../../src/node/host.js";
import type { FileStat, FsStats, Host, ReadOptions } from "../../src/types.js";

export class RecordingHost implements Host {
  readonly inner: RootedHost;
  /** Node paths asked for, normalised, in the order first asked, with the methods that asked. */
  readonly asked = new Map<string, Set<string>>();

  constructor(root: string) {
    this.inner = new RootedHost(root);
  }

  get root(): string {
    return this.inner.root;
  }

  private note(nodePath: string, method: string): void {
    const path = normalizeNodePath(nodePath);
    const methods = this.asked.get(path) ?? new Set<string>();
    methods.add(method);
    this.asked.set(path, methods);
  }

  local(nodePath: string): string {
    this.note(nodePath, "local");
    return this.inner.local(nodePath);
  }
  resolve(nodePath: string): Promise<string> {
    this.note(nodePath, "resolve");
    return this.inner.resolve(nodePath);
  }
  readText(nodePath: string, options?: ReadOptions): Promise<string> {
    this.note(nodePath, "readText");
    return this.inner.readText(nodePath, options);
  }
  readBytes(nodePath: string, options?: ReadOptions): Promise<Buffer> {
    this.note(nodePath, "readBytes");
    return this.inner.readBytes(nodePath, options);
  }
  readLink(nodePath: string): Promise<string> {
    this.note(nodePath, "readLink");
    return this.inner.readLink(nodePath);
  }
  stat(nodePath: string): Promise<FileStat> {
    this.note(nodePath, "stat");
    return this.inner.stat(nodePath);
  }
  lstat(nodePath: string): Promise<FileStat> {
    this.note(nodePath, "lstat");
    return this.inner.lstat(nodePath);
  }
  list(nodePath: string): Promise<string[]> {
    this.note(nodePath, "list");
    return this.inner.list(nodePath);
  }
  exists(nodePath: string): Promise<boolean> {
    this.note(nodePath, "exists");
    return this.inner.exists(nodePath);
  }
  statfs(nodePath: string, signal?: AbortSignal): Promise<FsStats> {
    this.note(nodePath, "statfs");
    return this.inner.statfs(nodePath, signal);
  }
}
