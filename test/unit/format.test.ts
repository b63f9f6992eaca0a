/** The one set of formatters: each duration precision, times, bytes and error text, as messages print them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorLine, errorText, formatAge, formatBytes, formatDuration, formatLimit, isoTime, isoTimeMs } from "../../src/text/format.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe("durations", () => {
  it("formatDuration: a measured span to two units, the last rounded; whole days from two days on", () => {
    const rows: Array<[number, string]> = [
      [4.25, "4.3 ms"],
      [350, "350 ms"],
      [-5000, "5.0 s"],
      [12 * MIN + 5000, "12 min 5 s"],
      [3 * HOUR + 2 * MIN, "3 h 2 min"],
      [3 * HOUR - 400, "3 h 0 min"],
      [5 * HOUR, "5 h 0 min"],
      [DAY - 20_000, "1 d 0 h"],
      [DAY + 4 * HOUR, "1 d 4 h"],
      [343 * DAY - 3 * HOUR, "342 days"],
    ];
    assert.deepEqual(
      rows.map(([ms]) => formatDuration(ms)),
      rows.map(([, text]) => text),
    );
  });

  it("formatAge: one unit, rounded, in the same words", () => {
    const rows: Array<[number, string]> = [
      [-1000, "0 s"],
      [45_000, "45 s"],
      [125_000, "2 min"],
      [10 * MIN, "10 min"],
      [2 * HOUR - 30_000, "120 min"],
      [3 * HOUR + 12 * MIN, "3 h"],
      [50 * HOUR, "2 days"],
      [175 * DAY, "175 days"],
    ];
    assert.deepEqual(
      rows.map(([ms]) => formatAge(ms)),
      rows.map(([, text]) => text),
    );
  });

  it("formatLimit: a configured limit as an operator writes it", () => {
    assert.deepEqual([250, 500, 1000, 1500, 2600, 60_000].map(formatLimit), ["250 ms", "500 ms", "1 s", "1.5 s", "2.6 s", "60 s"]);
  });
});

describe("times, bytes, errors", () => {
  it("isoTime is to the second (as metav1.Time), isoTimeMs keeps the milliseconds", () => {
    assert.equal(isoTime(Date.UTC(2026, 10, 24, 12, 0, 0, 999)), "2026-11-24T12:00:00Z");
    assert.equal(isoTime(Number.NaN), "NaN");
    assert.equal(isoTimeMs(Date.UTC(2026, 10, 24, 12, 0, 0, 5)), "2026-11-24T12:00:00.005Z");
  });

  it("formatBytes in binary units", () => {
    assert.deepEqual([512, 1536, 12 * 1024 ** 3].map(formatBytes), ["512 B", "1.5 KiB", "12.0 GiB"]);
  });

  it("errorText and errorLine say what went wrong whatever was thrown", () => {
    assert.equal(errorText(new Error("no such file")), "no such file");
    assert.equal(errorText("plain"), "plain");
    assert.equal(errorText(undefined), "undefined");
    assert.equal(errorLine(new Error("bad YAML at line 3\n  key: [\n     ^")), "bad YAML at line 3");
  });
});
