/**
 * What the agent's bundle loads decides much of its resident memory
 * (docs/performance.md, "Where the resident memory goes"). Two measured
 * traps are kept out of it here, on the bundle `npm test` builds:
 * - an ESM `import` of a Node builtin builds a facade that reads every
 *   export, and node:http's lazy getters then load undici (2.7 MiB in the
 *   agent): builtins come from process.getBuiltinModule (scripts/build.mjs);
 * - Intl (toLocaleString, Intl.*, localeCompare) maps megabytes of ICU data.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";

const bundle = new URL("../dist/node-doctor.mjs", import.meta.url);

describe("agent bundle", () => {
  it("takes Node's builtins without ESM imports", async () => {
    const code = await readFile(bundle, "utf8");
    const imports = [...code.matchAll(/\bimport\s*(?:[\w$*{][^;]*?\bfrom\s*)?["'](node:[\w/]+)["']/g)].map((m) => m[1]);
    assert.deepEqual(imports, [], `ESM imports of builtins: ${imports.join(", ")}`);
    assert.match(code, /process\.getBuiltinModule\("node:http"\)/);
  });

  it("uses no Intl", async () => {
    const code = await readFile(bundle, "utf8");
    for (const needle of [".toLocaleString(", ".toLocaleDateString(", ".toLocaleTimeString(", "Intl.", ".localeCompare("]) {
      assert.equal(code.includes(needle), false, `the agent bundle calls ${needle}`);
    }
  });
});
