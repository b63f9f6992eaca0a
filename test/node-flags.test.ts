/** The agent's V8 flags are decided once (scripts/node-flags.mjs) and used everywhere it starts. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";

const root = new URL("../", import.meta.url);

describe("agent V8 flags", () => {
  it("npm start uses them", async () => {
    const pkg = JSON.parse(await readFile(new URL("package.json", root), "utf8")) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts["start"], `node ${AGENT_NODE_FLAGS.join(" ")} dist/node-doctor.mjs run`);
  });

  it("the bundle's shebang uses them", async () => {
    const bundle = await readFile(new URL("dist/node-doctor.mjs", root), "utf8");
    assert.equal(bundle.split("\n")[0], `#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(" ")}`);
  });

  it("the image's entrypoint uses them", async () => {
    const dockerfile = await readFile(new URL("Dockerfile", root), "utf8");
    const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT\s+(.+)$/gm)].map((m) => m[1] ?? "");
    assert.equal(entrypoints.length, 1, "one ENTRYPOINT");
    assert.deepEqual(JSON.parse(entrypoints[0] ?? ""), ["node", ...AGENT_NODE_FLAGS, "/app/dist/node-doctor.mjs"]);
  });
});
