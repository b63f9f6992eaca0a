/** Every default is declared once, in the schema: docs/configuration.md and the chart's values.yaml state it from there. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { renderConfigurationDoc, renderValuesConfig, schemaDefaults } from "../../scripts/config-docs.js";
import { generatedDocs } from "../../scripts/docs.js";
import { checkSettingsSchemas } from "../../src/checks/index.js";
import { agentConfigSchema, DEFAULT_KUBERNETES_SETTINGS } from "../../src/config/config.js";
import { DEFAULT_CONDITIONS_POLICY } from "../../src/sinks/conditions.js";

const defaults = schemaDefaults(agentConfigSchema(checkSettingsSchemas));
const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), "utf8");

describe("configuration defaults", () => {
  it("docs/configuration.md and values.yaml are up to date (npm run docs)", async () => {
    for (const { path, content } of generatedDocs().filter((d) => d.path === "docs/configuration.md" || d.path.endsWith("values.yaml"))) {
      assert.equal(await read(path), content, `${path} is out of date: run npm run docs`);
    }
  });

  it("a wrong default in the page is rewritten from the schema, a key the schema lacks or a defaulted key left out fails", async () => {
    const page = await read("docs/configuration.md");
    const drifted = page.replace("| `kubernetes.heartbeatSeconds` | `600` |", "| `kubernetes.heartbeatSeconds` | `300` |");
    assert.notEqual(drifted, page);
    assert.equal(renderConfigurationDoc(drifted, defaults), page);
    assert.throws(
      () => renderConfigurationDoc(page.replace("`kubernetes.events`", "`kubernetes.eventz`"), defaults),
      /docs\/configuration\.md:\d+: `kubernetes\.eventz` is not a configuration key/,
    );
    assert.throws(() => renderConfigurationDoc(page.replace(/^\| `kubernetes\.events` .*\n/m, ""), defaults), /does not document `kubernetes\.events`/);
  });

  it("the chart's config block states the schema's defaults", async () => {
    const values = await read("charts/node-doctor/values.yaml");
    const drifted = values.replace("heartbeatSeconds: 600", "heartbeatSeconds: 900");
    assert.equal(renderValuesConfig(drifted, defaults), values);
    assert.match(values, /^config:\n {2}logLevel: info\n {2}kubernetes:\n {4}heartbeatSeconds: 600\n {4}events: true\n {2}checks: \{\}\n/m);
  });

  it("the heartbeat and the backoff cap the API sinks use by default are the schema's", () => {
    assert.equal(DEFAULT_KUBERNETES_SETTINGS.heartbeatSeconds, defaults.get("kubernetes.heartbeatSeconds")?.fallback);
    assert.equal(DEFAULT_CONDITIONS_POLICY.heartbeatMs, DEFAULT_KUBERNETES_SETTINGS.heartbeatSeconds * 1000);
    assert.equal(DEFAULT_CONDITIONS_POLICY.backoffCapMs, DEFAULT_KUBERNETES_SETTINGS.backoffCapSeconds * 1000);
  });
});
