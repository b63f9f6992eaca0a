/**
 * Installed package versions from the host's package database, read as a
 * file (no dpkg/rpm child). Debian and Ubuntu keep it as text in
 * /var/lib/dpkg/status; kubeadm's apt packages are named kubelet, kubeadm,
 * kubectl. RPM's database is binary (BerkeleyDB or SQLite) and is not read.
 */
import type { Host } from "../types.js";

export const DPKG_STATUS_PATH = "/var/lib/dpkg/status";

export interface InstalledPackage {
  name: string;
  /** The Debian version, e.g. "1.30.4-1.1". */
  version: string;
  /** Where it was read, e.g. "/var/lib/dpkg/status". */
  source: string;
}

/** Finds an installed package's version in a dpkg status file's text. */
export function dpkgPackageVersion(statusText: string, name: string): string | undefined {
  for (const paragraph of statusText.split(/\n\s*\n/)) {
    if (!new RegExp(`^Package: ${name.replace(/[.+]/g, "\\$&")}$`, "m").test(paragraph)) continue;
    // Removed packages keep a paragraph ("deinstall ok config-files").
    if (!/^Status: .* installed$/m.test(paragraph)) continue;
    const version = /^Version: (\S+)$/m.exec(paragraph)?.[1];
    if (version) return version;
  }
  return undefined;
}

/**
 * Reads one package's version from dpkg's status, re-reading only when the
 * file changes (it is a few MiB on a busy host).
 */
export class DpkgReader {
  /** Only the answers are kept, never the file's text: memory stays flat. */
  private readonly cached = new Map<string, { key: string; version: string | undefined }>();

  constructor(private readonly host: Host) {}

  async version(name: string, signal?: AbortSignal): Promise<InstalledPackage | undefined> {
    let key: string;
    try {
      const st = await this.host.stat(DPKG_STATUS_PATH);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return undefined; // not a dpkg system
    }
    let entry = this.cached.get(name);
    if (entry?.key !== key) {
      const text = await this.host.readText(DPKG_STATUS_PATH, { maxBytes: 32 * 1024 * 1024, ...(signal ? { signal } : {}) });
      entry = { key, version: dpkgPackageVersion(text, name) };
      this.cached.set(name, entry);
    }
    const version = entry.version;
    return version ? { name, version, source: DPKG_STATUS_PATH } : undefined;
  }
}
