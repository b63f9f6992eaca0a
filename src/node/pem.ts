/**
 * PEM files as kubelet writes them: one or more `-----BEGIN X-----` blocks
 * (kubelet-client-current.pem holds a CERTIFICATE and an EC PRIVATE KEY).
 * Parsing is strict so a damaged file is named precisely — truncated,
 * garbage base64, DER where PEM belongs, empty — instead of "bad certificate".
 */

export interface PemBlock {
  /** "CERTIFICATE", "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", … */
  label: string;
  der: Buffer;
  /** 1-based line of the BEGIN line, for messages. */
  line: number;
}

export type PemParse = { ok: true; blocks: PemBlock[] } | { ok: false; problem: string };

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/;
const END = /^-----END ([A-Z0-9 ]+)-----\s*$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
/** RFC 7468 explanatory headers ("Proc-Type: …") kubelet never writes, but openssl may. */
const HEADER_LINE = /^[A-Za-z0-9-]+:/;

/** Describes bytes that are not PEM text at all. */
function describeBinary(bytes: Buffer): string {
  // DER SEQUENCE with a long-form length: what `openssl x509 -outform der` writes.
  if (bytes[0] === 0x30 && (bytes[1] === 0x82 || bytes[1] === 0x81 || (bytes[1] ?? 0x80) < 0x80)) {
    return "is DER (binary ASN.1), expected PEM text; convert with `openssl x509 -inform der -in <file> -out <file>.pem`";
  }
  return "is binary data, not PEM text";
}

/** Control characters other than whitespace, or bytes that are not UTF-8: not a text file. */
function isBinary(sample: Buffer): boolean {
  for (const byte of sample) if (byte < 0x09 || (byte > 0x0d && byte < 0x20 && byte !== 0x1b)) return true;
  try {
    // A fresh decoder each time: streaming keeps state. A character cut at the sample's end is fine.
    new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
    return false;
  } catch {
    return true;
  }
}

/** Parses every PEM block in a file's bytes; problems are data naming what is wrong and where. */
export function parsePem(bytes: Buffer): PemParse {
  if (bytes.length === 0) return { ok: false, problem: "is empty" };
  if (isBinary(bytes.subarray(0, 512))) return { ok: false, problem: describeBinary(bytes) };
  const text = bytes.toString("utf8");
  if (text.trim() === "") return { ok: false, problem: "is empty (only whitespace)" };
  const lines = text.split(/\r?\n/);
  const blocks: PemBlock[] = [];
  let open: { label: string; line: number; body: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    const begin = BEGIN.exec(line);
    if (begin) {
      if (open) return { ok: false, problem: `PEM block ${open.label} at line ${open.line} has no END line before line ${i + 1} (truncated?)` };
      open = { label: begin[1] as string, line: i + 1, body: [] };
      continue;
    }
    const end = END.exec(line);
    if (end) {
      if (!open) return { ok: false, problem: `line ${i + 1} ends a PEM block ${end[1]} that was never begun` };
      if (end[1] !== open.label) return { ok: false, problem: `PEM block ${open.label} at line ${open.line} ends with END ${end[1]}` };
      const body = open.body.join("");
      if (body.length === 0) return { ok: false, problem: `PEM block ${open.label} at line ${open.line} is empty` };
      if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
        return { ok: false, problem: `PEM block ${open.label} at line ${open.line} is not valid base64 (truncated or corrupted)` };
      }
      blocks.push({ label: open.label, der: Buffer.from(body, "base64"), line: open.line });
      open = undefined;
      continue;
    }
    if (!open) continue; // text between blocks is allowed (openssl's -text output)
    if (line === "") continue;
    if (open.body.length === 0 && HEADER_LINE.test(line)) continue;
    if (!BASE64_LINE.test(line)) {
      return { ok: false, problem: `PEM block ${open.label} at line ${open.line} has garbage at line ${i + 1} (not base64)` };
    }
    open.body.push(line);
  }
  if (open) return { ok: false, problem: `PEM block ${open.label} at line ${open.line} has no END line (truncated?)` };
  if (blocks.length === 0) return { ok: false, problem: "holds no PEM block (no -----BEGIN line)" };
  return { ok: true, blocks };
}

/** The key encodings node:crypto reads from DER, by PEM label. */
export function privateKeyType(label: string): "pkcs8" | "sec1" | "pkcs1" | undefined {
  if (label === "PRIVATE KEY") return "pkcs8";
  if (label === "EC PRIVATE KEY") return "sec1";
  if (label === "RSA PRIVATE KEY") return "pkcs1";
  return undefined;
}
