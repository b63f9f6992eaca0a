/**
 * The plain report: what a terminal shows. Text quoted from the node's logs
 * and daemons cannot drive the terminal with escape sequences.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderText } from "../../src/sinks/text.js";
import type { Finding } from "../../src/types.js";

describe("text report", () => {
  it("neutralises control characters from quoted logs, keeping its own colours", () => {
    const hostile: Finding = {
      check: "kubelet-logs",
      condition: "KubeletUnhealthy",
      severity: "critical",
      reason: "KubeletFailedToRun",
      message: 'kubelet logged "failed to run Kubelet: \x1b]0;pwned\x07\x1b[2J" 3 times.',
      remedy: "journalctl -u kubelet\r\n\x1b[31mrm -rf /\x1b[0m",
    };
    const plain = renderText([hostile], { colour: false });
    assert.doesNotMatch(plain, /[\x00-\x08\x0b-\x1f\x7f]/, "no control character but newline and tab");
    assert.match(plain, /failed to run Kubelet: \uFFFD\]0;pwned\uFFFD\uFFFD\[2J/);
    const coloured = renderText([hostile], { colour: true });
    assert.ok(!coloured.includes("\x07") && !coloured.includes("\x1b]0;") && !coloured.includes("\x1b[2J"), "only the report's own SGR colours remain");
    assert.match(coloured, /\x1b\[31mCRIT/);
  });
});
