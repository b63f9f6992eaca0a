/** Remedy commands stay one harmless word per value, whatever the value holds. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { sh, shellQuote } from "../../src/text/shell.js";

describe("shellQuote", () => {
  it("leaves safe words bare and quotes the rest", () => {
    assert.equal(shellQuote("/var/lib/kubelet/pki/kubelet-client-current.pem"), "/var/lib/kubelet/pki/kubelet-client-current.pem");
    assert.equal(shellQuote("OutOfDisk"), "OutOfDisk");
    assert.equal(shellQuote(""), "''");
    assert.equal(shellQuote("Foreign0'$(touch /tmp/x)'"), `'Foreign0'\\''$(touch /tmp/x)'\\'''`);
    assert.equal(sh`kubectl get node ${"worker 1"}`, "kubectl get node 'worker 1'");
  });

  it("spells a backtick without one, so the backticks around a remedy's command still delimit it", () => {
    const quoted = shellQuote("a`pwned`b");
    assert.equal(quoted, `'a'"$(printf '\\140')"'pwned'"$(printf '\\140')"'b'`);
    assert.ok(!quoted.includes("`"));
    assert.equal(execFileSync("/bin/sh", ["-c", `printf '%s' ${quoted}`], { encoding: "utf8" }), "a`pwned`b");
  });

  it("a quoted value reaches the shell as exactly one argument, unchanged (sh -c, 200 random values)", () => {
    fc.assert(
      fc.property(
        fc
          .string({
            unit: fc.oneof(fc.constantFrom(..."'\"$`\\\n\t ();&|*?~#!{}<>é✓"), fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 })),
            maxLength: 40,
          })
          .filter((s) => !s.includes("\0")),
        (value) => {
          const out = execFileSync("/bin/sh", ["-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" });
          assert.equal(out, value);
        },
      ),
      { numRuns: 200 },
    );
  });
});
