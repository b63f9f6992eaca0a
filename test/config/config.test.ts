import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { configSchema } from "../../src/main/agent.js";
import { loadConfig, overridesFromEnvironment } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/schema.js";
import { readOwnFile } from "../../src/node/host.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-config-"));
  dirs.push(dir);
  const path = join(dir, "config.yaml");
  await writeFile(path, text);
  return path;
}

async function errorOf(text: string | undefined, flags: Record<string, string> = {}, env: Record<string, string> = {}): Promise<string> {
  const configFile_ = text === undefined ? undefined : await configFile(text);
  try {
    await loadConfig(configSchema, overridesFromEnvironment(env), { ...(configFile_ ? { configFile: configFile_ } : {}), ...flags }, readOwnFile);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.doesNotMatch(error.message, /\n/, "one line");
    return error.message.replace(/config \/\S+config\.yaml/, "config FILE");
  }
  assert.fail("expected the configuration to be rejected");
}

describe("configuration", () => {
  it("defaults need no file", async () => {
    const config = await loadConfig(configSchema, {}, {}, readOwnFile);
    assert.equal(config.hostRoot, "/");
    assert.equal(config.listen, "0.0.0.0:9101");
    assert.equal(config.checks.disk.enabled, true);
    assert.equal(config.checks.disk.intervalSeconds, 30);
    assert.equal(config.kubernetes.heartbeatSeconds, 600);
  });

  it("a file, the environment and flags merge in that order", async () => {
    const file = await configFile("hostRoot: /from-file\nlisten: 127.0.0.1:1000\nchecks:\n  disk:\n    intervalSeconds: 120\n");
    const config = await loadConfig(
      configSchema,
      overridesFromEnvironment({ NODE_DOCTOR_LISTEN: "127.0.0.1:2000", NODE_NAME: "worker-7" }),
      {
        configFile: file,
        hostRoot: "/from-flag",
      },
      readOwnFile,
    );
    assert.equal(config.hostRoot, "/from-flag");
    assert.equal(config.listen, "127.0.0.1:2000");
    assert.equal(config.nodeName, "worker-7");
    assert.equal(config.checks.disk.intervalSeconds, 120);
  });

  const rejected: Array<[string, string | undefined, Record<string, string>, RegExp]> = [
    [
      "unknown key, with a suggestion",
      "checks:\n  disk:\n    intervalSecond: 30\n",
      {},
      /^config FILE: checks\.disk\.intervalSecond: unknown key \(did you mean "intervalSeconds"\?\)/,
    ],
    ["unknown check", "checks:\n  disks: {}\n", {}, /^config FILE: checks\.disks: unknown key \(did you mean "disk"\?\)/],
    ["wrong type", "checks:\n  disk:\n    intervalSeconds: 30s\n", {}, /^config FILE: checks\.disk\.intervalSeconds: expected a number, got the string "30s"$/],
    ["a list where a mapping belongs", "- a\n- b\n", {}, /^config FILE: expected a mapping at the top level, got a list$/],
    [
      "bad threshold syntax",
      "checks:\n  disk:\n    evictionHard:\n      nodefs.available: 10 percent\n",
      {},
      /^config FILE: checks\.disk\.evictionHard\.nodefs\.available: "10 percent" is not a percentage \(e\.g\. 10%\) or a quantity/,
    ],
    [
      "unknown eviction signal",
      "checks:\n  disk:\n    evictionHard:\n      nodefs.avail: 10%\n",
      {},
      /checks\.disk\.evictionHard\.nodefs\.avail: unknown eviction signal/,
    ],
    ["out of range", "engine:\n  jitterRatio: 3\n", {}, /^config FILE: engine\.jitterRatio: must be at most 0\.5, got 3$/],
    ["invalid YAML", "checks: [\n", {}, /^config FILE: invalid YAML: /],
    ["bad --listen flag", undefined, { listen: "9101" }, /^--listen: expected HOST:PORT \(e\.g\. 0\.0\.0\.0:9101\), got "9101"$/],
    ["bad --log-level flag", undefined, { logLevel: "verbose" }, /^--log-level: expected one of "debug", "info", "warn", "error", got the string "verbose"$/],
    ["missing config file", undefined, { configFile: "/nonexistent/node-doctor.yaml" }, /^--config \/nonexistent\/node-doctor\.yaml: does not exist$/],
  ];
  for (const [name, text, flags, expected] of rejected) {
    it(`rejects ${name} in one line naming the key`, async () => {
      assert.match(await errorOf(text, flags), expected);
    });
  }

  it("names the environment variable when it is the bad value", async () => {
    assert.match(await errorOf(undefined, {}, { NODE_DOCTOR_LISTEN: "localhost" }), /^NODE_DOCTOR_LISTEN: expected HOST:PORT/);
  });
});
