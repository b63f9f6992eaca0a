/**
 * Hostile input to the log readers: klog headers, structured klog, JSON and
 * logfmt lines, and `journalctl -o json` records. Property: never a throw, a
 * bounded time per line (signature regexes included), a record whose text is
 * a string and whose time, when present, is a real time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SIGNATURES } from "../../src/checks/kubelet-logs/signatures.js";
import { looksBinary, parseJournalJson, parseLogLine, recordFromJournal } from "../../src/node/log-line.js";
import { nearly, RUNS, timed } from "../support/fuzz.js";

const NOW = Date.parse("2026-11-25T12:00:00Z");

const KLOG_LINES = [
  'E1125 11:59:58.123456    1234 kubelet.go:2862] "Container runtime network not ready" networkReady="NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"',
  "W0102 15:04:05.000001 9 server.go:612] No api server defined - no node status update will be sent.",
  'I1125 12:00:00.5 42 x.go:1] msg key="va\\"lue" other=plain',
  '{"ts":1764072000.123,"caller":"kubelet.go:1","msg":"Failed to run kubelet","v":0,"err":"failed to run Kubelet: validate service connection"}',
  'time="2026-11-25T12:00:00Z" level=error msg="failed to load cni during init"',
];
const KLOG_JUNK = ["\0", "]", "[", '"', "\\", "E9999 99:99:99.9", "I1332 25:61:61.0 1 a]", "{", "}", '{"msg":', "=", " ", "\x1b[31m", "\uFFFD"];

function checkRecord(line: string): void {
  const record = timed(() => parseLogLine(line, NOW));
  assert.equal(typeof record.text, "string");
  if (record.timeMs !== undefined) assert.ok(Number.isFinite(record.timeMs), `time ${record.timeMs}`);
  timed(() => looksBinary(line));
  // Every signature's patterns on every line: no catastrophic backtracking.
  timed(() => {
    for (const signature of SIGNATURES) signature.pattern.test(record.text);
  });
}

describe("hostile input to the log parsers", () => {
  it("klog, structured klog, JSON and logfmt lines: a record, never a throw", () => {
    fc.assert(fc.property(fc.oneof(nearly(KLOG_LINES, KLOG_JUNK), fc.string({ maxLength: 2000 })), checkRecord), RUNS);
  });

  it("a 1 MB line and a line of NULs are handled within the bound", () => {
    checkRecord("E1125 11:59:58.123456 1 a.go:1] " + "x".repeat(1_000_000));
    checkRecord('"'.repeat(100_000));
    checkRecord("\0".repeat(10_000));
  });

  it("journalctl -o json records: an entry or undefined", () => {
    const record = fc.record(
      {
        MESSAGE: fc.oneof(fc.string(), fc.array(fc.integer({ min: -1, max: 300 })), fc.constant(null), fc.integer()),
        _SYSTEMD_UNIT: fc.oneof(fc.constant("kubelet.service"), fc.string(), fc.integer()),
        _PID: fc.oneof(fc.constant("1234"), fc.string(), fc.integer()),
        __REALTIME_TIMESTAMP: fc.oneof(fc.constant("1764072000123456"), fc.string(), fc.constant("99999999999999999999999")),
        __CURSOR: fc.string(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          record.map((r) => JSON.stringify(r)),
          fc.string(),
          fc.json(),
        ),
        (line) => {
          const entry = timed(() => parseJournalJson(line));
          if (!entry) return;
          assert.equal(typeof entry.message, "string");
          if (entry.realtimeMs !== undefined) assert.ok(Number.isFinite(entry.realtimeMs));
          checkRecord(recordFromJournal(entry, NOW).text);
        },
      ),
      RUNS,
    );
  });
});
