/**
 * Reads that fail for the agent's own reasons — out of file descriptors
 * (EMFILE, ENFILE), out of memory, a read cut short — say nothing about the
 * node. They must surface as "could not look" (the engine's `unknown`),
 * never be taken for "the file is not there" and turned into a fact such as
 * a disabled unit.
 */
import { HostPathError } from "./host.js";
import type { Host } from "../types.js";

/** errno codes that describe the agent's process, not the node's files. */
const OWN_FAILURES = new Set(["EMFILE", "ENFILE", "ENOMEM", "EAGAIN", "ENOBUFS", "EINTR"]);

/** Codes that prove a path is absent. */
const ABSENT = new Set(["ENOENT", "ENOTDIR"]);

export class CouldNotLook extends Error {
  constructor(
    readonly nodePath: string,
    readonly code: string,
  ) {
    super(`${nodePath}: ${code} while reading it (the agent's own limit, not a fact about the node)`);
    this.name = "CouldNotLook";
  }
}

function codeOf(error: unknown): string | undefined {
  if (error instanceof HostPathError) return error.code;
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

/** True when a failed read says something about the agent rather than the node. */
export function isOwnFailure(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && OWN_FAILURES.has(code);
}

/** Rethrows `error` as CouldNotLook when it is the agent's own failure; otherwise returns. */
export function throwIfOwnFailure(error: unknown, nodePath: string): void {
  if (isOwnFailure(error)) throw new CouldNotLook(nodePath, codeOf(error) ?? "EUNKNOWN");
}

/** True when the code of a failed read proves the path absent. */
export function isAbsent(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && ABSENT.has(code);
}

/**
 * Whether a node path exists, without following a final symlink (a link
 * proves what it links even when its target is elsewhere). Absent only on
 * ENOENT/ENOTDIR; the agent's own failures throw CouldNotLook; anything else
 * (EACCES on a file that is there) counts as present.
 */
export async function present(host: Host, nodePath: string): Promise<boolean> {
  try {
    await host.lstat(nodePath);
    return true;
  } catch (error) {
    throwIfOwnFailure(error, nodePath);
    if (isAbsent(error)) return false;
    return true;
  }
}

/** A directory's entries; [] when it does not exist; the agent's own failures throw. */
export async function listIfPresent(host: Host, nodePath: string): Promise<string[]> {
  try {
    return await host.list(nodePath);
  } catch (error) {
    throwIfOwnFailure(error, nodePath);
    return [];
  }
}
