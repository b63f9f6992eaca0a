/** Every check is listed once in checks/index.ts and every reason it emits is documented. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { CHECKS } from "../../src/checks/index.js";
import { REASONS as ENGINE_CATALOGUE } from "../../src/engine/reasons.js";
import { REPAIR_CLASSES, type ReasonSpec } from "../../src/types.js";
import { generatedDocs } from "../../scripts/docs.js";
import { FakeClock } from "../support/fake-clock.js";
import { testJournalReader } from "../support/journal.js";

const CHECKS_DIR = new URL("../../src/checks/", import.meta.url);

describe("check registry", () => {
  it("lists every check folder (each folder whose index.ts exports a create…Check or, for a list kind, create…Checks factory)", async () => {
    const registered = new Set(Object.values(CHECKS).map((entry) => entry.create));
    for (const entry of await readdir(CHECKS_DIR, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const module = (await import(new URL(`${entry.name}/index.ts`, CHECKS_DIR).href)) as Record<string, unknown>;
      const factories = Object.entries(module).filter(([name]) => /^create\w*Checks?$/.test(name));
      assert.ok(factories.length > 0, `src/checks/${entry.name}/index.ts exports no create…Check factory`);
      for (const [name, value] of factories) {
        assert.ok(registered.has(value as never), `src/checks/${entry.name} exports ${name} but src/checks/index.ts does not list it`);
      }
    }
  });

  it("names each check after its registry key, and each entry of a list kind <kind>/<entry>", () => {
    const deps = { kubelet: { locate: async () => ({}) }, journal: testJournalReader("/nonexistent", new FakeClock()) } as never;
    for (const [name, entry] of Object.entries(CHECKS)) {
      // Absent from the file: a kind's defaults (an empty list for a list kind).
      const settings: unknown = entry.settings.parse(undefined, `checks.${name}`);
      for (const check of entry.build(settings as never, deps, true)) assert.equal(check.name, name);
    }
    const custom = CHECKS.custom.settings.parse(
      [{ name: "data-mount", condition: "DataMountMissing", probe: { kind: "file", path: "/mnt/data" } }],
      "checks.custom",
    );
    assert.deepEqual(
      CHECKS.custom.build(custom, deps, false).map((check) => check.name),
      ["custom/data-mount"],
    );
  });
});

describe("docs/reasons.md", () => {
  it("is generated from every check's reasons.ts and is up to date (npm run docs)", async () => {
    for (const { path, content } of generatedDocs()) {
      assert.equal(await readFile(new URL(`../../${path}`, import.meta.url), "utf8"), content, `${path} is out of date: run npm run docs`);
    }
  });

  it("documents every reason a check or the engine can emit, each with its severities, meaning and repair class", () => {
    for (const catalogue of [ENGINE_CATALOGUE, ...Object.values(CHECKS).map((entry) => entry.reasons)]) {
      for (const [name, spec] of Object.entries(catalogue.reasons as Record<string, ReasonSpec>)) {
        assert.equal(catalogue.names[name as never], name);
        assert.ok(spec.severities.length > 0, `${catalogue.check}/${name} lists no severity`);
        assert.ok(spec.meaning.trim() !== "", `${catalogue.check}/${name} has no meaning`);
        assert.ok((REPAIR_CLASSES as readonly string[]).includes(spec.repair), `${catalogue.check}/${name} has repair ${spec.repair}`);
      }
    }
  });
});
