/**
 * Kubernetes versions as the kubelet-config rules compare them. Only major
 * and minor matter to the rules (flags are removed and defaults change on
 * minor releases).
 */

export interface KubeVersion {
  major: number;
  minor: number;
  patch: number;
  /** As written where it was found: "v1.7.16", "1.30.4-1.1". */
  text: string;
}

/** Where the version came from, for messages: "/var/lib/dpkg/status (package kubelet 1.7.16-00)". */
export interface VersionFact {
  version: KubeVersion;
  source: string;
}

/** Accepts "v1.28.2", "1.28.2-00", "1.30.4-1.1", "v1.29.3-eks-adc7111", "v1.7.16+coreos.0". */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~].*)?$/.exec(text.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0), text: text.trim() };
}

/** True when `version` is `major.minor` or later. */
export function atLeast(version: KubeVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

export function shortVersion(version: KubeVersion): string {
  return `${version.major}.${version.minor}.${version.patch}`;
}
