/** Every check is listed once in checks/index.ts and every reason it emits is documented. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { CHECKS } from "../../src/checks/index.js";
import { ENGINE_REASONS } from "../../src/engine/scheduler.js";

const CHECKS_DIR = new URL("../../src/checks/", import.meta.url);
const REASONS_DOC = new URL("../../docs/reasons.md", import.meta.url);

describe("check registry", () => {
  it("lists every check folder (each folder whose index.ts exports a create…Check factory)", async () => {
    const registered = new Set(Object.values(CHECKS).map((entry) => entry.create));
    for (const entry of await readdir(CHECKS_DIR, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const module = (await import(new URL(`${entry.name}/index.ts`, CHECKS_DIR).href)) as Record<string, unknown>;
      const factories = Object.entries(module).filter(([name]) => /^create\w*Check$/.test(name));
      assert.ok(factories.length > 0, `src/checks/${entry.name}/index.ts exports no create…Check factory`);
      for (const [name, value] of factories) {
        assert.ok(registered.has(value as never), `src/checks/${entry.name} exports ${name} but src/checks/index.ts does not list it`);
      }
    }
  });

  it("names each check after its registry key", () => {
    for (const [name, entry] of Object.entries(CHECKS)) {
      const settings = (entry.settings as { parse(v: unknown, k: string): { enabled: boolean } }).parse({}, name);
      // Each factory takes its own settings type; the registry key ties them together.
      const check = (entry.create as (s: unknown, d: unknown) => { name: string })(settings, { kubelet: { locate: async () => ({}) } });
      assert.equal(check.name, name);
    }
  });
});

describe("docs/reasons.md", () => {
  it("documents every reason a check or the engine can emit, and nothing else", async () => {
    const doc = await readFile(REASONS_DOC, "utf8");
    const documented = new Set([...doc.matchAll(/^### (\w+)\s*$/gm)].map((m) => m[1] as string));
    const emitted = new Set<string>(Object.values(ENGINE_REASONS));
    for (const entry of Object.values(CHECKS)) for (const reason of Object.values(entry.reasons)) emitted.add(reason);
    const undocumented = [...emitted].filter((r) => !documented.has(r));
    const stale = [...documented].filter((r) => !emitted.has(r));
    assert.deepEqual(undocumented, [], "reasons emitted but not documented in docs/reasons.md");
    assert.deepEqual(stale, [], "reasons documented but no longer emitted");
  });
});
