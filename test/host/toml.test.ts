/**
 * The TOML reader against the real thing: containerd's own default config,
 * and containerd itself (`containerd --config F config dump`) as the judge of
 * which snippets are valid — the reader must accept what containerd loads and
 * reject what it refuses, naming the line.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { containerdCgroup } from "../../src/node/runtime-config.js";
import { TomlError, parseToml, tomlGet } from "../../src/node/toml.js";
import { runTool } from "../support/tools.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "node-doctor-toml-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function containerdAccepts(text: string): Promise<{ ok: boolean; stderr: string; dump: string }> {
  const path = join(dir, "config.toml");
  await writeFile(path, text);
  const result = await runTool("containerd", ["--config", path, "config", "dump"], { timeoutMs: 20_000 });
  return { ok: result.code === 0, stderr: result.stderr, dump: result.stdout };
}

function ourVerdict(text: string): { ok: true } | { ok: false; line: number } {
  try {
    parseToml(text);
    return { ok: true };
  } catch (error) {
    assert.ok(error instanceof TomlError, `unexpected ${String(error)}`);
    return { ok: false, line: error.line };
  }
}

const SECTION = 'version = 2\n[plugins."io.containerd.example.v1"]\n';

/** Snippets under a plugin section containerd does not interpret; `line` is where the problem is. */
const SNIPPETS: Array<{ text: string; line?: number }> = [
  { text: 'a = { x = 1, y = "z" }' },
  { text: "a = [\n 1,\n 2, # c\n]" },
  { text: "a = 'lit\\eral'" },
  { text: 'a."b.c".d = true' },
  { text: '[[plugins."io.containerd.example.v1".arr]]\nq = 1\n[[plugins."io.containerd.example.v1".arr]]\nq = 2' },
  { text: "a = 1979-05-27T07:32:00Z" },
  { text: "a = 1979-05-27 07:32:00Z" },
  { text: 'a = """multi\\nline"""' },
  { text: 'a = """\nfirst\nsecond"""\nb = 1' },
  { text: "a = '''x'''" },
  { text: "a = 1_000\nb = 0x1F\nc = inf\nd = -0.5e3\ne = +1" },
  { text: '"quoted key" = 1' },
  { text: 'a = [ [1], ["x"] ]\nb = {}\nc = 1 # comment' },
  { text: "a = 1\na = 2", line: 4 },
  { text: 'a = "unterminated', line: 3 },
  { text: "a = ", line: 3 },
  { text: "a = yes", line: 3 },
  { text: 'a = "bad \\q escape"', line: 3 },
  // Unterminated at the end of the input: smol-toml names the line where the input ends.
  { text: "a = [1, 2", line: 4 },
  { text: "a = { x = 1", line: 4 },
  { text: "a b = 1", line: 3 },
  { text: "a = 1 b = 2", line: 3 },
  { text: "[plugins\nx = 1", line: 3 },
];

describe("TOML reader", () => {
  it("reads containerd's own default config and finds SystemdCgroup = false", async () => {
    const result = await runTool("containerd", ["config", "default"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = parseToml(result.stdout);
    assert.equal(doc["version"], 2);
    const options = ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options"];
    assert.equal(tomlGet(doc, [...options, "SystemdCgroup"]), false);
    const verdict = containerdCgroup("/etc/containerd/config.toml", result.stdout);
    assert.deepEqual(verdict.ok && "systemd" in verdict ? verdict.systemd : undefined, false);
  });

  it("agrees with containerd when SystemdCgroup is switched on", async () => {
    const defaults = (await runTool("containerd", ["config", "default"])).stdout;
    const systemd = defaults.replace("SystemdCgroup = false", "SystemdCgroup = true");
    const real = await containerdAccepts(systemd);
    assert.ok(real.ok, real.stderr);
    assert.match(real.dump, /SystemdCgroup = true/);
    const verdict = containerdCgroup("/etc/containerd/config.toml", systemd);
    assert.ok(verdict.ok && "systemd" in verdict && verdict.systemd, JSON.stringify(verdict));
    assert.match(
      verdict.ok && "detail" in verdict ? verdict.detail : "",
      /sets SystemdCgroup = true in \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]/,
    );
  });

  for (const snippet of SNIPPETS) {
    it(`${snippet.line ? "rejects" : "accepts"}, as containerd does: ${JSON.stringify(snippet.text)}`, async () => {
      const text = SECTION + snippet.text + "\n";
      const real = await containerdAccepts(text);
      const ours = ourVerdict(text);
      assert.equal(real.ok, snippet.line === undefined, `containerd ${real.ok ? "accepted" : "refused"} it: ${real.stderr}`);
      assert.equal(ours.ok, real.ok, `containerd ${real.ok ? "accepted" : `refused (${real.stderr.trim()})`}, we ${ours.ok ? "accepted" : "refused"}`);
      if (!ours.ok) assert.equal(ours.line, snippet.line);
    });
  }

  it("keeps values typed and arrays of tables as lists", () => {
    const doc = structuredClone(parseToml('a = "x\\ty"\nb = [1, 2.5, true]\n[t."k.1"]\nc = { d = \'e\' }\n[[arr]]\nn = 1\n[[arr]]\nn = 2\n'));
    assert.deepEqual(doc, { a: "x\ty", b: [1, 2.5, true], t: { "k.1": { c: { d: "e" } } }, arr: [{ n: 1 }, { n: 2 }] });
  });

  it("containerd config versions 1 and 3 and a non-default runtime", () => {
    const v1 = containerdCgroup("/c.toml", "[plugins.cri.containerd.runtimes.runc.options]\nSystemdCgroup = true\n");
    assert.ok(v1.ok && "systemd" in v1 && v1.systemd);
    const v3 = containerdCgroup("/c.toml", "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\nSystemdCgroup = true\n");
    assert.ok(v3.ok && "systemd" in v3 && v3.systemd);
    const crun = containerdCgroup(
      "/c.toml",
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\ndefault_runtime_name = "crun"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true\n',
    );
    assert.ok(crun.ok && "systemd" in crun && !crun.systemd, "the default runtime is crun, which does not set SystemdCgroup");
    const imported = containerdCgroup("/c.toml", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n');
    assert.ok(imported.ok && "systemd" in imported && !imported.systemd, "one file alone; readContainerdConfig follows the imports");
    assert.ok(containerdCgroup("/c.toml", "version = 2\nimports = []\n").ok);
    const disabled = containerdCgroup("/c.toml", 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
    assert.ok(disabled.ok && "criDisabled" in disabled);
    const wrongType = containerdCgroup(
      "/c.toml",
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = "true"\n',
    );
    assert.ok(!wrongType.ok && /SystemdCgroup .* must be true or false, got "true"/.test(wrongType.problem));
  });
});
