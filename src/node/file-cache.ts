/**
 * The one stat-keyed cache of parsed node files: a value is reused while its file keeps its
 * device, inode, size and mtime. kubelet's config, drop-ins and kubeconfig are read by several
 * checks every few seconds, and parsing YAML costs more CPU than the rest of a round (0.6 of
 * 1.05 ms); PEM files, package databases and kubelet binaries (a 100 MiB scan) likewise.
 * Bounded: at most `maxEntries`, oldest dropped first, and a scan between begin() and sweep()
 * drops what it did not touch.
 */
import type { FileStat, Host } from "../types.js";
import { throwIfOwnFailure } from "./could-not-look.js";

/** What stat says about a file's contents: the same signature, the same bytes (as far as a cache may assume). */
export function statSignature(st: Pick<FileStat, "dev" | "ino" | "size" | "mtimeMs">): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

export class FileCache<T> {
  private readonly entries = new Map<string, { signature: string; value: T; seen: number }>();
  private generation = 0;
  /** How many times a value was computed rather than reused (tests and benches read it). */
  parses = 0;

  constructor(private readonly maxEntries = 64) {}

  /** The value kept for `key` while its signature stays `signature`; else computed, counted and kept. Undefined `signature`: computed, never kept. */
  async through(key: string, signature: string | undefined, compute: () => Promise<T> | T): Promise<T> {
    const entry = this.entries.get(key);
    if (signature !== undefined && entry?.signature === signature) {
      entry.seen = this.generation;
      return entry.value;
    }
    this.parses++;
    const value = await compute();
    this.entries.delete(key);
    if (signature !== undefined) {
      this.entries.set(key, { signature, value, seen: this.generation });
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    return value;
  }

  /** Stats `nodePath` and goes through the cache; a path that cannot be stat'ed is parsed every time (parse says why) and not kept. */
  async get(host: Host, nodePath: string, parse: () => Promise<T>): Promise<T> {
    let signature: string | undefined;
    try {
      signature = statSignature(await host.stat(nodePath));
    } catch (error) {
      throwIfOwnFailure(error, nodePath);
    }
    return this.through(nodePath, signature, parse);
  }

  /** Starts a scan: entries not touched until sweep() are dropped. */
  begin(): void {
    this.generation++;
  }

  sweep(): void {
    for (const [key, entry] of this.entries) if (entry.seen !== this.generation) this.entries.delete(key);
  }
}
