/**
 * Hostile input for the certificate readers — random bytes as a PEM file, every
 * truncation of a real kubelet-client-*.pem, any YAML value as a kubeconfig.
 * Property: never a throw, and either a value or a problem that says what.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { parseCertificateFile } from "../../src/checks/certificates/files.js";
import { parseKubeconfig } from "../../src/checks/certificates/sources.js";
import { parsePem } from "../../src/node/pem.js";
import { CertificateMint, type Minted } from "../support/certs.js";

const RUNS = { numRuns: 400, seed: 20261125 };

describe("certificate parsers under hostile input", () => {
  let mint: CertificateMint;
  let leaf: Minted;
  before(() => {
    mint = new CertificateMint();
    const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) });
    leaf = mint.leaf(ca, {
      subject: "/O=system:nodes/CN=system:node:n1",
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 3_600_000),
    });
  });
  after(() => mint.cleanup());

  it("any bytes: PEM blocks or a problem, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const parsed = parsePem(Buffer.from(bytes));
        assert.ok(parsed.ok || parsed.problem.length > 0);
      }),
      RUNS,
    );
  });

  it("every truncation of a real certificate + key file: certificates or a named problem", () => {
    const whole = Buffer.from(leaf.combinedPem);
    let problems = 0;
    for (let end = 0; end <= whole.length; end++) {
      const parsed = parseCertificateFile(whole.subarray(0, end));
      if (!parsed.ok) {
        problems++;
        assert.match(parsed.problem, /empty|truncated|no PEM block|not valid base64|not a valid X\.509|garbage|never begun|no END/);
      }
    }
    assert.ok(problems > whole.length / 2, "most cuts are problems");
    const full = parseCertificateFile(whole);
    assert.ok(full.ok && full.certificates.length === 1 && full.keys.length === 1);
  });

  it("bytes flipped inside the base64: never a throw", () => {
    const whole = Buffer.from(leaf.combinedPem);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: whole.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const copy = Buffer.from(whole);
        copy[at] = value;
        const parsed = parseCertificateFile(copy);
        assert.ok(parsed.ok || parsed.problem.length > 0);
      }),
      RUNS,
    );
  });

  it("any value as a kubeconfig: credentials or a problem naming the file", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom("users", "clusters", "contexts", "current-context", "kind"), fc.jsonValue({ maxDepth: 4 })), (doc) => {
        const parsed = parseKubeconfig("/etc/kubernetes/kubelet.conf", doc);
        assert.ok(parsed.ok || parsed.problem.startsWith("/etc/kubernetes/kubelet.conf: "));
      }),
      RUNS,
    );
  });
});
