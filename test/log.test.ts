/** The agent's log lines: what a log collector parses. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createJsonLog } from "../src/telemetry/log.js";

describe("JSON log", () => {
  it("writes one JSON object per line with level, ISO time, bindings, fields and msg; filters by level", () => {
    const lines: string[] = [];
    const log = createJsonLog({
      level: "info",
      bindings: { component: "node-doctor" },
      write: (l) => lines.push(l),
      now: () => Date.parse("2026-11-25T12:00:00Z"),
    });
    log.debug({ noisy: true }, "not written");
    log.child({ check: "disk" }).warn({ err: new Error("EIO: /var/lib/kubelet"), count: 10n }, "could not look");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]?.endsWith("\n"));
    assert.deepEqual(JSON.parse(lines[0] ?? ""), {
      level: "warn",
      time: "2026-11-25T12:00:00.000Z",
      component: "node-doctor",
      check: "disk",
      err: "EIO: /var/lib/kubelet",
      count: "10",
      msg: "could not look",
    });
  });

  it("fields named like pino's own keys (level, time, msg) are kept beside them, never in their place", () => {
    const lines: string[] = [];
    const log = createJsonLog({ level: "info", write: (l) => lines.push(l), now: () => Date.parse("2026-11-25T12:00:00Z") });
    log.info({ level: "debug", time: 5, msg: "field" }, "the message");
    const line = lines[0] ?? "";
    assert.equal(line.match(/"level":/g)?.length, 1, line);
    assert.equal(line.match(/"msg":/g)?.length, 1, line);
    assert.deepEqual(JSON.parse(line), {
      level: "info",
      time: "2026-11-25T12:00:00.000Z",
      field_level: "debug",
      field_time: 5,
      field_msg: "field",
      msg: "the message",
    });
  });

  it("a field that cannot be serialised does not lose the line", () => {
    const lines: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    createJsonLog({ level: "debug", write: (l) => lines.push(l) }).error({ cyclic }, "still logged");
    assert.match(lines[0] ?? "", /"msg":"still logged"/);
  });
});
