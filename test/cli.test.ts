/** The CLI contract (README.md "Commands"), exercised on the built bundle. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runTool } from "./support/tools.js";
import { BUNDLE, runCli, startAgentProcess } from "./support/cli.js";
import { fillBytes, fixtureRoot, type FixtureRoot } from "./support/fixture-root.js";

describe("node-doctor check", () => {
  const roots: FixtureRoot[] = [];
  let healthy: FixtureRoot;
  let warning: FixtureRoot;
  let critical: FixtureRoot;
  before(async () => {
    healthy = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
    await healthy.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await healthy.writeMountinfo();
    warning = await fixtureRoot("disk-malformed-config", { tmpfsRoot: true });
    await warning.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await warning.writeMountinfo();
    critical = await fixtureRoot("disk-bytes-full", { tmpfsRoot: true });
    await fillBytes(await critical.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 }), 100 * 1024);
    await critical.writeMountinfo();
    roots.push(healthy, warning, critical);
  });
  after(async () => {
    for (const root of roots) await root.cleanup();
  });

  it("exits 0 on a healthy node and prints {findings} as JSON", async () => {
    const result = await runCli(["check", "--host-root", healthy.root, "--output", "json", "--only", "disk"]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { findings: Array<{ severity: string; check: string }> };
    assert.ok(parsed.findings.length >= 2);
    assert.ok(parsed.findings.every((f) => f.severity === "ok"));
    assert.ok(parsed.findings.some((f) => f.check === "disk"));
  });

  it("exits 1 when the worst finding is a warning", async () => {
    const result = await runCli(["check", "--host-root", warning.root, "--only", "disk"]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /EvictionThresholdsUnreadable/);
  });

  it("exits 2 on a critical finding and prints reason, message and remedy", async () => {
    const result = await runCli(["check", "--host-root", critical.root, "--only", "disk"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /CRIT\s+DiskSpaceLow=True/);
    assert.match(result.stdout, /critical NodeFsAvailableLow \[disk\]/);
    assert.match(result.stdout, /Fix: Find what fills it/);
    assert.doesNotMatch(result.stdout, /\x1b\[/, "no colour when stdout is not a terminal");
  });

  it("--only custom/<name> runs that custom check alone (disabled or not) beside the kinds named; an entry not configured is exit 3 naming those that are", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nd-only-"));
    try {
      const config = join(dir, "config.yaml");
      const custom = [
        { name: "kubelet-dir", condition: "KubeletDirMissing", probe: { kind: "file", path: "/var/lib/kubelet" } },
        { name: "scratch", condition: "ScratchMissing", enabled: false, probe: { kind: "file", path: "/mnt/scratch" } },
      ];
      await writeFile(config, JSON.stringify({ checks: { custom } }));
      const one = await runCli(["check", "--host-root", healthy.root, "--config", config, "--output", "json", "--only", "custom/scratch"]);
      assert.equal(one.code, 2, one.stdout + one.stderr);
      const findings = (JSON.parse(one.stdout) as { findings: Array<{ check: string; condition: string; severity: string }> }).findings;
      assert.deepEqual(
        findings.map((f) => [f.check, f.condition, f.severity]),
        [["custom/scratch", "ScratchMissing", "critical"]],
      );
      const mixed = await runCli(["check", "--host-root", healthy.root, "--config", config, "--output", "json", "--only", "disk,custom/kubelet-dir"]);
      assert.equal(mixed.code, 0, mixed.stdout + mixed.stderr);
      const checks = new Set((JSON.parse(mixed.stdout) as { findings: Array<{ check: string }> }).findings.map((f) => f.check));
      assert.deepEqual([...checks].sort(), ["custom/kubelet-dir", "disk"]);
      const unknown = await runCli(["check", "--host-root", healthy.root, "--config", config, "--only", "custom/nope"]);
      assert.equal(unknown.code, 3);
      assert.equal(unknown.stderr, 'node-doctor: --only: no custom check named "nope" in the configuration; configured: kubelet-dir, scratch\n');
      const none = await runCli(["check", "--host-root", healthy.root, "--only", "custom/nope"]);
      assert.equal(none.stderr, 'node-doctor: --only: no custom check named "nope" in the configuration; checks.custom is empty\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const usage: Array<[string[], RegExp]> = [
    [["check", "--bogus"], /^node-doctor: unknown flag --bogus \(see node-doctor --help\)\n$/],
    [["check", "--only", "disk", "extra"], /^node-doctor: unexpected argument "extra" \(see node-doctor --help\)\n$/],
    [["check", "--config"], /^node-doctor: --config: expected a value\n$/],
    [["check", "--help=yes"], /^node-doctor: --help takes no value\n$/],
    [["run", "--log-format", "xml"], /^node-doctor: --log-format: expected json or pretty, got "xml"\n$/],
    [["check", "--only", "disk,nope"], /^node-doctor: --only: unknown check "nope"; checks are disk, .*, custom, custom\/<name>\n$/],
    [["check", "--only", "disk/x"], /^node-doctor: --only: disk is one check, it has no entries: name it as disk\n$/],
    [["check", "--only", "custom/"], /^node-doctor: --only: "custom\/" names no entry: custom\/<name>\n$/],
    [["check", "--output", "yaml"], /^node-doctor: --output: expected text or json, got "yaml"\n$/],
    [["check", "--config", "/nonexistent.yaml"], /^node-doctor: --config \/nonexistent\.yaml: does not exist\n$/],
    [["explode"], /^node-doctor: unknown command "explode"/],
    [["run", "--listen", "nowhere"], /^node-doctor: --listen: expected HOST:PORT/],
    [["check", "--host-root", "/nonexistent"], /^node-doctor: host root \/nonexistent: does not exist \(set by --host-root/],
  ];
  it("exits 3 naming --listen when the address cannot be bound", async () => {
    const result = await runCli(["run", "--listen", "192.0.2.1:9101", "--host-root", "/"]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /\nnode-doctor: --listen 192\.0\.2\.1:9101: no such address on this host\n$/);
  });

  it("exits 3 with one line naming --listen when its host does not resolve", async () => {
    const result = await runCli(["run", "--listen", "no-such-host.invalid:9101", "--host-root", "/"]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(
      result.stderr,
      /(^|\n)node-doctor: --listen no-such-host\.invalid:9101: no such host \(give an address of this host, e\.g\. 0\.0\.0\.0:9101\)\n$/,
    );
    assert.doesNotMatch(result.stderr, /getaddrinfo|\n\s+at /, "no raw resolver error, no stack");
  });

  for (const [args, expected] of usage) {
    it(`exits 3 with one line for: ${args.join(" ")}`, async () => {
      const result = await runCli(args);
      assert.equal(result.code, 3);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    });
  }

  it("runs from the bundle and its chunks alone, with no node_modules beside it (package.json bin)", async () => {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { bin: Record<string, string> };
    assert.equal(pkg.bin["node-doctor"], "dist/node-doctor.mjs");
    const dir = await mkdtemp(join(tmpdir(), "node-doctor-bundle-"));
    try {
      await copyFile(BUNDLE, join(dir, "node-doctor.mjs"));
      await cp(join(dirname(BUNDLE), "chunks"), join(dir, "chunks"), { recursive: true });
      const result = await runCli(["check", "--host-root", healthy.root, "--output", "json", "--only", "disk"], { bundle: join(dir, "node-doctor.mjs") });
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("prints its version", async () => {
    const result = await runCli(["version"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^node-doctor \d+\.\d+\.\d+\n$/);
  });
});

describe("node-doctor run", () => {
  let root: FixtureRoot;
  before(async () => {
    root = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
    await root.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await root.writeMountinfo();
  });
  after(() => root.cleanup());

  it("prints the first diagnosis, serves /metrics and /readyz, and exits 0 on SIGTERM within 5 s", async () => {
    const agent = await startAgentProcess(["--host-root", root.root, "--listen", "127.0.0.1:0", "--node-name", "worker-1"]);
    try {
      assert.match(agent.output(), /DiskSpaceLow=False/);
      const metrics = await (await fetch(`${agent.address}/metrics`)).text();
      assert.match(metrics, /node_doctor_condition\{condition="DiskSpaceLow",status="False",node="worker-1"\} 1/);
      // The live agent's whole exposition, process series included, as promtool lints it.
      const lint = await runTool("promtool", ["check", "metrics"], { input: metrics });
      assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
      assert.match(metrics, /^process_resident_memory_bytes\{node="worker-1"\} \d+$/m);
      assert.equal((await fetch(`${agent.address}/readyz`)).status, 200);
      assert.match(agent.output(), /running locally; NodeConditions and Events are off/);
      // Started as `node bundle run` (no shebang): it says what that costs.
      assert.match(agent.output(), /running without the agent's V8 flags: resident memory is about 10 MiB higher/);
      const started = Date.now();
      agent.child.kill("SIGTERM");
      const [code] = (await once(agent.child, "exit")) as [number | null];
      assert.equal(code, 0);
      assert.ok(Date.now() - started < 5_000, "graceful shutdown within 5 s");
    } finally {
      agent.child.kill("SIGKILL");
    }
  });

  it("SIGHUP: shuts down cleanly and says why, rather than dying without its shutdown", async () => {
    const agent = await startAgentProcess(["--host-root", root.root, "--listen", "127.0.0.1:0", "--node-name", "worker-1"]);
    try {
      agent.child.kill("SIGHUP");
      const [code, signal] = (await once(agent.child, "exit")) as [number | null, string | null];
      assert.deepEqual([code, signal], [0, null], "exit 0, not killed by the signal (129)");
      assert.match(agent.output(), /"signal":"SIGHUP","msg":"shutting down on SIGHUP \(the configuration is read only at start: restart to apply a change\)"/);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});
