/**
 * Which kubeconfig a kubectl plugin uses, the way kubectl decides: --kubeconfig,
 * else every file in KUBECONFIG (colon-separated, merged: the first file to
 * name a cluster, user or context wins, as does the first current-context),
 * else ~/.kube/config. Relative paths inside each file stay relative to that
 * file, so the merged document names them absolutely.
 */
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { KubeConfigError, readKubeconfigDocument } from "../kube/credentials.js";
import { isRecord } from "../types.js";

export function kubeconfigPaths(options: { kubeconfig?: string; env?: NodeJS.ProcessEnv; home?: string }): string[] {
  if (options.kubeconfig) return [options.kubeconfig];
  const list = (options.env ?? process.env)["KUBECONFIG"];
  const paths = (list ?? "").split(":").filter(Boolean);
  return paths.length > 0 ? paths : [join(options.home ?? homedir(), ".kube", "config")];
}

type Doc = Record<string, unknown>;

/** Fields holding file paths, by section and the key of the inner object. */
const PATH_FIELDS: Record<string, { inner: string; keys: string[] }> = {
  clusters: { inner: "cluster", keys: ["certificate-authority"] },
  users: { inner: "user", keys: ["client-certificate", "client-key", "tokenFile"] },
};

function absolutise(section: string, entry: Doc, file: string): Doc {
  const spec = PATH_FIELDS[section];
  const inner = spec ? entry[spec.inner] : undefined;
  if (!spec || !isRecord(inner)) return entry;
  const fixed: Doc = { ...inner };
  for (const key of spec.keys) {
    const value = fixed[key];
    if (typeof value === "string" && value && !isAbsolute(value)) fixed[key] = resolve(dirname(file), value);
  }
  return { ...entry, [spec.inner]: fixed };
}

/**
 * Reads and merges the files; a missing file in a KUBECONFIG list is skipped
 * as kubectl skips it, but none readable at all is an error naming them.
 */
export async function mergeKubeconfigs(paths: readonly string[]): Promise<Doc> {
  const merged: Doc = { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [] };
  const seen: Record<string, Set<string>> = { clusters: new Set(), users: new Set(), contexts: new Set() };
  let read = 0;
  for (const path of paths) {
    let doc: Record<string, unknown> | null;
    try {
      doc = await readKubeconfigDocument(path);
    } catch (error) {
      // A file named in a KUBECONFIG list that does not exist is skipped, as kubectl skips it.
      if (error instanceof KubeConfigError && error.problem === "does not exist" && paths.length > 1) continue;
      throw error;
    }
    if (!doc) continue;
    read++;
    if (merged["current-context"] === undefined && typeof doc["current-context"] === "string" && doc["current-context"]) {
      merged["current-context"] = doc["current-context"];
    }
    for (const section of ["clusters", "users", "contexts"] as const) {
      const entries = doc[section];
      if (entries === undefined || entries === null) continue;
      if (!Array.isArray(entries)) throw new KubeConfigError(`kubeconfig ${path}`, `${section} is not a list`);
      for (const entry of entries) {
        if (!isRecord(entry) || typeof entry["name"] !== "string") throw new KubeConfigError(`kubeconfig ${path}`, `${section}: an entry without a name`);
        if (seen[section]?.has(entry["name"])) continue;
        seen[section]?.add(entry["name"]);
        (merged[section] as Doc[]).push(absolutise(section, entry, path));
      }
    }
  }
  if (read === 0) throw new KubeConfigError(`kubeconfig ${paths.join(":")}`, "none of these files exists");
  return merged;
}
