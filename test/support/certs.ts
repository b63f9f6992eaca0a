/**
 * Real certificates minted at test time with the system's openssl: ECDSA
 * P-256 (what kubelet uses) or RSA keys, CAs and leaves with any NotBefore
 * and NotAfter — including NotBefore in the future, which only `openssl ca
 * -startdate` can write (openssl 3.0's `x509 -req` cannot). Nothing secret
 * is committed: every key lives in a temp dir for one test run.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./tools.js";

export type KeyType = "ec" | "rsa";

export interface Minted {
  certPem: string;
  /** kubelet's encodings: SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY". */
  keyPem: string;
  /** Certificate then key, as in kubelet-client-<time>.pem. */
  combinedPem: string;
  subject: string;
}

export interface MintOptions {
  /** openssl -subj form: "/O=system:nodes/CN=system:node:node30". */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  keyType?: KeyType;
  /** Extensions section: "ca", "client" or "server". */
  profile?: "ca" | "client" | "server";
}

const CONFIG = (dir: string) => `
[ca]
default_ca = testca
[testca]
database = ${dir}/index.txt
new_certs_dir = ${dir}
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
rand_serial = yes
[anything]
commonName = optional
organizationName = optional
organizationalUnitName = optional
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
`;

/** openssl's ASN.1 time: YYYYMMDDHHMMSSZ. */
function asn1Time(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function newKey(type: KeyType): string {
  if (type === "ec") {
    return generateKeyPairSync("ec", {
      namedCurve: "P-256",
      privateKeyEncoding: { type: "sec1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    }).privateKey;
  }
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
}

/** Mints certificates in one temp dir; call cleanup() when done. */
export class CertificateMint {
  private readonly dir = mkdtempSync(join(tmpdir(), "node-doctor-mint-"));
  private readonly openssl = requireTool("openssl");
  private seq = 0;

  constructor() {
    writeFileSync(join(this.dir, "index.txt"), "");
    writeFileSync(join(this.dir, "openssl.cnf"), CONFIG(this.dir));
  }

  private run(args: string[]): void {
    try {
      execFileSync(this.openssl, args, { stdio: "pipe", cwd: this.dir });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(`openssl ${args[0]} failed: ${stderr}`);
    }
  }

  private sign(options: MintOptions, key: string, issuer?: { certPem: string; keyPem: string }): Minted {
    const n = this.seq++;
    const keyFile = join(this.dir, `k${n}.pem`);
    const csrFile = join(this.dir, `r${n}.csr`);
    const outFile = join(this.dir, `c${n}.pem`);
    writeFileSync(keyFile, key, { mode: 0o600 });
    this.run(["req", "-new", "-key", keyFile, "-subj", options.subject, "-out", csrFile]);
    const profile = options.profile ?? (issuer ? "client" : "ca");
    const common = ["ca", "-batch", "-config", join(this.dir, "openssl.cnf"), "-in", csrFile, "-out", outFile, "-notext", "-preserveDN"];
    const dates = ["-startdate", asn1Time(options.notBefore), "-enddate", asn1Time(options.notAfter), "-extensions", `${profile}_ext`];
    if (issuer) {
      const caCert = join(this.dir, `ca${n}.pem`);
      const caKey = join(this.dir, `cak${n}.pem`);
      writeFileSync(caCert, issuer.certPem);
      writeFileSync(caKey, issuer.keyPem, { mode: 0o600 });
      this.run([...common, "-cert", caCert, "-keyfile", caKey, ...dates]);
    } else {
      this.run([...common, "-selfsign", "-keyfile", keyFile, ...dates]);
    }
    const certPem = readFileSync(outFile, "utf8");
    return { certPem, keyPem: key, combinedPem: certPem + key, subject: options.subject };
  }

  /** A self-signed CA. */
  ca(options: Omit<MintOptions, "profile">): Minted {
    return this.sign({ ...options, profile: "ca" }, newKey(options.keyType ?? "ec"));
  }

  /** A leaf signed by `issuer` (profile "client" unless told). */
  leaf(issuer: Minted, options: MintOptions): Minted {
    return this.sign(options, newKey(options.keyType ?? "ec"), issuer);
  }

  /** A self-signed leaf, like kubelet's own kubelet.crt. */
  selfSigned(options: MintOptions): Minted {
    return this.sign({ ...options, profile: options.profile ?? "server" }, newKey(options.keyType ?? "ec"));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
