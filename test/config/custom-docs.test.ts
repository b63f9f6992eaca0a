/**
 * docs/custom-checks.md against the code: every example is a configuration
 * the agent accepts, every probe kind has its section, and each section's
 * settings table and field list name exactly what the probe has.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { configSchema } from "../../src/main/agent.js";
import { COMMON_FIELDS, PROBE_FIELDS, probeSettings } from "../../src/checks/custom/probes.js";

const DOC = new URL("../../docs/custom-checks.md", import.meta.url);

function section(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/custom-checks.md has no "${heading}" section`);
  const next = doc.slice(start + heading.length + 2).search(/\n#{2,3} /);
  return next < 0 ? doc.slice(start) : doc.slice(start, start + heading.length + 2 + next);
}

describe("docs/custom-checks.md", () => {
  it("every YAML example is a valid configuration, and there are at least five with checks.custom", async () => {
    const doc = await readFile(DOC, "utf8");
    const examples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const custom = examples.filter((e) => e.includes("custom:"));
    assert.ok(custom.length >= 6, `found ${custom.length} examples`);
    for (const example of custom) {
      const config = configSchema.parse(parse(example), "");
      assert.ok(config.checks.custom.length > 0);
    }
    const kinds = new Set(custom.flatMap((e) => configSchema.parse(parse(e), "").checks.custom.map((c) => c.probe.kind)));
    for (const kind of ["file", "sysctl", "unit", "http", "log"]) assert.ok(kinds.has(kind as never), `an example with a ${kind} probe`);
  });

  it("documents each probe's settings and fields", async () => {
    const doc = await readFile(DOC, "utf8");
    for (const [kind, variant] of Object.entries(probeSettings.variants)) {
      const text = section(doc, `### \`${kind}\``);
      const shape = (variant as unknown as { shape: Record<string, unknown> }).shape;
      for (const key of Object.keys(shape)) assert.match(text, new RegExp(`\`${key}\``), `${kind}: setting ${key} is documented`);
      const fields = /Fields: ([\s\S]*?)\.(\s|$)/.exec(text)?.[1] ?? "";
      for (const field of Object.keys(PROBE_FIELDS[kind as keyof typeof PROBE_FIELDS]))
        assert.match(fields, new RegExp(`\`${field}\``), `${kind}: field ${field} is listed`);
      const listed = [...fields.replace(/\([^)]*\)/g, "").matchAll(/`(\w+)`/g)].map((m) => m[1] as string).filter((f) => !/^\d/.test(f));
      for (const field of listed)
        assert.ok(Object.hasOwn(PROBE_FIELDS[kind as keyof typeof PROBE_FIELDS], field), `${kind}: ${field} is documented but not a field`);
    }
    for (const field of Object.keys(COMMON_FIELDS)) assert.match(section(doc, "### Templates"), new RegExp(`\`${field}\``));
  });
});
