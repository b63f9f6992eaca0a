/** The strict PEM reader: each damaged form is named precisely. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePem, privateKeyType } from "../../src/node/pem.js";

const body = Buffer.from("certificate bytes, not really DER").toString("base64");
const block = (label: string, text = body) => `-----BEGIN ${label}-----\n${text}\n-----END ${label}-----\n`;
const problem = (text: string | Buffer) => {
  const parsed = parsePem(Buffer.isBuffer(text) ? text : Buffer.from(text));
  assert.equal(parsed.ok, false, "expected a problem");
  return parsed.ok ? "" : parsed.problem;
};

describe("parsePem", () => {
  it("reads several blocks, with CRLF line ends and text between them", () => {
    const parsed = parsePem(Buffer.from(`subject=CN=x\r\n${block("CERTIFICATE").replaceAll("\n", "\r\n")}junk between\n${block("EC PRIVATE KEY")}`));
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.blocks.map((b) => [b.label, b.line]),
      [
        ["CERTIFICATE", 2],
        ["EC PRIVATE KEY", 6],
      ],
    );
    assert.equal(parsed.blocks[0]?.der.toString(), "certificate bytes, not really DER");
  });

  it("skips RFC 7468 headers before the base64", () => {
    assert.ok(parsePem(Buffer.from(block("RSA PRIVATE KEY", `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n${body}`))).ok);
  });

  it("names each damaged form", () => {
    assert.equal(problem(""), "is empty");
    assert.equal(problem(" \n\n"), "is empty (only whitespace)");
    assert.match(problem(Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02, 0x01])), /is DER \(binary ASN\.1\), expected PEM text/);
    assert.match(problem(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00])), /is binary data, not PEM text/);
    assert.match(problem("just some text\n"), /holds no PEM block/);
    assert.match(problem("0000 text that starts like DER\n"), /holds no PEM block/);
    assert.match(problem(`-----BEGIN CERTIFICATE-----\n${body}\n`), /CERTIFICATE at line 1 has no END line \(truncated\?\)/);
    assert.match(problem(`-----BEGIN CERTIFICATE-----\n${body}\n${block("CERTIFICATE")}`), /has no END line before line 3/);
    assert.match(problem(`-----BEGIN CERTIFICATE-----\n${body}\n-----END PRIVATE KEY-----\n`), /ends with END PRIVATE KEY/);
    assert.match(problem(`-----END CERTIFICATE-----\n`), /line 1 ends a PEM block CERTIFICATE that was never begun/);
    assert.match(problem(block("CERTIFICATE", "")), /is empty/);
    assert.match(problem(block("CERTIFICATE", `${body}\n#$%^`)), /garbage at line 3 \(not base64\)/);
    assert.match(problem(block("CERTIFICATE", body.slice(0, -1))), /not valid base64 \(truncated or corrupted\)/);
  });

  it("maps key labels to node:crypto's DER encodings", () => {
    assert.equal(privateKeyType("EC PRIVATE KEY"), "sec1");
    assert.equal(privateKeyType("PRIVATE KEY"), "pkcs8");
    assert.equal(privateKeyType("RSA PRIVATE KEY"), "pkcs1");
    assert.equal(privateKeyType("CERTIFICATE"), undefined);
  });
});
