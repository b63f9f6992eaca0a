/**
 * Certificates minted in-process (WebCrypto and @peculiar/x509), for the unit
 * lane, with whatever NotBefore and NotAfter a case needs, ECDSA P-256 as kubelet uses, no openssl
 * and no files. The tool-based mint (test/support/certs.ts) stays for tests
 * that hand certificates to real programs.
 */
import "reflect-metadata";
import { createPrivateKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

// Node's WebCrypto is the standard one; only its TypeScript type is Node's own.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

export interface MintedPem {
  certPem: string;
  /** SEC1 "EC PRIVATE KEY", as kubelet writes it. */
  keyPem: string;
  /** Certificate then key, as in kubelet-client-<time>.pem. */
  combinedPem: string;
}

export interface MintedCa extends MintedPem {
  subject: string;
  keys: CryptoKeyPair;
}

let serial = 1;

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function sec1(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return String(createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ type: "sec1", format: "pem" }));
}

async function pem(certificate: x509.X509Certificate, keys: CryptoKeyPair): Promise<MintedPem> {
  const certPem = certificate.toString("pem") + "\n";
  const keyPem = await sec1(keys.privateKey);
  return { certPem, keyPem, combinedPem: certPem + keyPem };
}

/** A self-signed CA; `subject` in RFC 4514 order as openssl prints it ("CN=kubernetes"). */
export async function mintCa(subject: string, notBefore: Date, notAfter: Date): Promise<MintedCa> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: subject,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return { ...(await pem(certificate, keys)), subject, keys };
}

/** A leaf signed by `ca` ("O=system:nodes, CN=system:node:node30"), or self-signed without one. */
export async function mintLeaf(ca: MintedCa | undefined, subject: string, notBefore: Date, notAfter: Date): Promise<MintedPem> {
  const keys = await keyPair();
  const certificate = ca
    ? await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, "0"),
        subject,
        issuer: ca.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALGORITHM,
        publicKey: keys.publicKey,
        signingKey: ca.keys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: (serial++).toString(16).padStart(2, "0"),
        name: subject,
        notBefore,
        notAfter,
        keys,
        signingAlgorithm: ALGORITHM,
      });
  return pem(certificate, keys);
}
