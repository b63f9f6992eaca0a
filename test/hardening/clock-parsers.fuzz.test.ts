/**
 * Hostile input for the clock check's parsers — any bytes as an NTP reply,
 * any text as chrony/ntpd/timesyncd configuration or an NTP server setting.
 * Property: a value or the module's own error naming the problem; never
 * another exception, never a hang.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseNtpServer } from "../../src/checks/clock/gather.js";
import { encodeRequest, parseReply, SntpError, validateReply } from "../../src/wire/sntp.js";
import { parseNtpConfig, parseTimesyncdConfig } from "../../src/node/timesync.js";

const RUNS = { numRuns: 500, seed: 20261125 };

function onlyOwnErrors(run: () => void, kind: new (...args: never[]) => Error): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof kind, `unexpected ${String(error)}`);
    assert.ok(error.message.length > 0);
  }
}

describe("clock parsers under hostile input", () => {
  it("any bytes as an NTP reply: parsed and judged, or an SntpError", () => {
    const nonce = Buffer.alloc(8, 7);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        const packet = Buffer.from(bytes);
        onlyOwnErrors(() => {
          const reply = parseReply(packet);
          assert.ok(Number.isFinite(reply.receiveMs) && Number.isFinite(reply.transmitMs));
          validateReply(reply, packet, nonce);
        }, SntpError);
      }),
      RUNS,
    );
  });

  it("every truncation of a request-shaped packet: too short until 48 bytes", () => {
    const whole = encodeRequest(Buffer.alloc(8, 1));
    for (let end = 0; end < whole.length; end++) assert.throws(() => parseReply(whole.subarray(0, end)), /too short for NTP/);
  });

  it("any text as chrony/ntpd and timesyncd configuration: servers with names, never a throw", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: "binary" }), (text) => {
        for (const item of parseNtpConfig(text, "/etc/chrony/chrony.conf")) {
          if ("server" in item)
            assert.ok(item.server.host.length > 0 && (item.server.port === undefined || (item.server.port > 0 && item.server.port < 65536)));
        }
        parseTimesyncdConfig(text);
        const parsed = parseNtpServer(text);
        assert.ok(typeof parsed === "string" ? parsed.length > 0 : parsed.host.length > 0);
      }),
      RUNS,
    );
  });
});
