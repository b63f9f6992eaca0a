/**
 * Certificate and key files read through the Host, parsed with node:crypto,
 * and cached by (resolved path, device, inode, size, mtime): a rescan costs a
 * stat per file and reparses only what changed. kubelet rotates by writing a
 * new file and swapping a symlink, so the inode changes with every rotation.
 *
 * Private keys are parsed only so a certificate can be matched against its
 * key; they never leave this module's cache and are never logged.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { HostPathError } from "../../node/host.js";
import { parsePem, privateKeyType } from "../../node/pem.js";
import type { Host } from "../../types.js";
import { errorLine } from "../../text/format.js";
import { FileCache, statSignature } from "../../node/file-cache.js";

/** Certificates and keys are small; a bigger file is not one. */
const MAX_PEM_BYTES = 256 * 1024;

export interface CertificateInfo {
  x509: X509Certificate;
  subject: string;
  issuer: string;
  commonName?: string;
  organizations: string[];
  notBeforeMs: number;
  notAfterMs: number;
  serialNumber: string;
}

export type PemContents =
  { ok: true; certificates: CertificateInfo[]; keys: KeyObject[]; keyProblem?: string } | { ok: false; problem: string; code: "unreadable" | "malformed" };

export type LoadedPemFile = PemContents & {
  /** The node path as configured. */
  path: string;
  /** Where its symlinks lead, when that could be worked out. */
  resolved?: string;
};

/** "O=system:nodes\nCN=system:node:n1" → attributes, multi-valued where repeated. */
export function distinguishedName(dn: string): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const line of dn.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    attributes.set(key, [...(attributes.get(key) ?? []), line.slice(eq + 1)]);
  }
  return attributes;
}

/**
 * validFromDate/validToDate exist from Node 22.10; older runtimes (a bundle
 * started with a distribution's Node 20) only have the strings, which V8's
 * Date parses ("Nov 25 17:29:49 2026 GMT").
 */
function validity(x509: X509Certificate): { notBeforeMs: number; notAfterMs: number } {
  const dates = x509 as { validFromDate?: Date; validToDate?: Date };
  const notBeforeMs = dates.validFromDate?.getTime() ?? Date.parse(x509.validFrom);
  const notAfterMs = dates.validToDate?.getTime() ?? Date.parse(x509.validTo);
  if (!Number.isFinite(notBeforeMs) || !Number.isFinite(notAfterMs)) throw new Error(`unreadable validity ${x509.validFrom} - ${x509.validTo}`);
  return { notBeforeMs, notAfterMs };
}

function describeCertificate(x509: X509Certificate): CertificateInfo {
  const subject = distinguishedName(x509.subject);
  const commonName = subject.get("CN")?.[0];
  return {
    x509,
    subject: x509.subject.replaceAll("\n", ", "),
    issuer: x509.issuer.replaceAll("\n", ", "),
    ...(commonName !== undefined ? { commonName } : {}),
    organizations: subject.get("O") ?? [],
    ...validity(x509),
    serialNumber: x509.serialNumber,
  };
}

function firstLine(error: unknown): string {
  return errorLine(error);
}

/** Parses PEM bytes into certificates and private keys; problems are data. */
export function parseCertificateFile(bytes: Buffer): PemContents {
  const pem = parsePem(bytes);
  if (!pem.ok) return { ok: false, problem: pem.problem, code: "malformed" };
  const certificates: CertificateInfo[] = [];
  const keys: KeyObject[] = [];
  let keyProblem: string | undefined;
  for (const block of pem.blocks) {
    if (block.label === "CERTIFICATE") {
      try {
        certificates.push(describeCertificate(new X509Certificate(block.der)));
      } catch (error) {
        return { ok: false, problem: `PEM block CERTIFICATE at line ${block.line} is not a valid X.509 certificate (${firstLine(error)})`, code: "malformed" };
      }
      continue;
    }
    const type = privateKeyType(block.label);
    if (type) {
      try {
        keys.push(createPrivateKey({ key: block.der, format: "der", type }));
      } catch {
        // The library's message could quote key bytes in some versions; say only where.
        keyProblem = `PEM block ${block.label} at line ${block.line} is not a readable private key`;
      }
    } else if (block.label === "ENCRYPTED PRIVATE KEY") {
      keyProblem = `PEM block ${block.label} at line ${block.line} is encrypted; kubelet cannot use it`;
    }
  }
  return { ok: true, certificates, keys, ...(keyProblem ? { keyProblem } : {}) };
}

/** Loads PEM files through the Host, reparsing only those whose stat changed (the one stat-keyed file cache). */
export class PemFileCache {
  // Files by resolved path and stat; inline kubeconfig data by label and digest (its bytes are its identity).
  private readonly files = new FileCache<PemContents>(Number.POSITIVE_INFINITY);

  /** How many times a file (or inline data) was actually parsed; for tests and benchmarks. */
  get parses(): number {
    return this.files.parses;
  }

  /** Starts a scan: entries not touched until sweep() are dropped, so memory stays bounded. */
  begin(): void {
    this.files.begin();
  }

  sweep(): void {
    this.files.sweep();
  }

  async load(host: Host, nodePath: string, signal: AbortSignal): Promise<LoadedPemFile> {
    signal.throwIfAborted();
    let resolved: string | undefined;
    try {
      resolved = await host.resolve(nodePath);
      const st = await host.stat(nodePath);
      if (st.kind === "directory") return { path: nodePath, resolved, ok: false, problem: "is a directory, expected a PEM file", code: "unreadable" };
      if (st.kind !== "file")
        return {
          path: nodePath,
          resolved,
          ok: false,
          problem: `is not a regular file (${st.kind === "other" ? "a device or FIFO" : `a ${st.kind}`}), expected a PEM file`,
          code: "unreadable",
        };
      const contents = await this.files.through(`file\0${resolved}`, statSignature(st), async () =>
        parseCertificateFile(await host.readBytes(nodePath, { maxBytes: MAX_PEM_BYTES, signal })),
      );
      return { path: nodePath, resolved, ...contents };
    } catch (error) {
      signal.throwIfAborted();
      if (!(error instanceof HostPathError)) throw error;
      return { path: nodePath, ...(resolved !== undefined ? { resolved } : {}), ok: false, problem: error.problem, code: "unreadable" };
    }
  }

  /** Inline kubeconfig data (`client-certificate-data`), already base64-decoded. */
  async loadInline(label: string, bytes: Buffer): Promise<LoadedPemFile> {
    const digest = createHash("sha256").update(bytes).digest("hex");
    const contents = await this.files.through(`inline\0${label}`, digest, () => parseCertificateFile(bytes));
    return { path: label, ...contents };
  }
}
