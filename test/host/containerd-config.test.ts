/**
 * containerd's config as containerd reads it: versions 1 to 4 with each
 * version's plugin names, imports (globs) merged in containerd's order, and
 * the TOML a hand-written reader got wrong. Real containerd 1.6 (`config
 * dump`) is the judge for what it reads (versions 1 and 2, imports); versions
 * 3 and 4 are judged against the configs kubespray publishes for containerd
 * 2.x and containerd's own migration code.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RootedHost } from "../../src/node/host.js";
import { containerdCgroupOf, containerdCniDirsOf, readContainerdConfig } from "../../src/node/containerd-config.js";
import { parseToml } from "../../src/node/toml.js";
import { runTool } from "../support/tools.js";

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "node-doctor-containerd-config-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * Writes the files under a fresh directory and returns it. The host root is "/" here, so node paths
 * and containerd's own paths are the same and imports name files both can open.
 */
async function node(files: Record<string, string>): Promise<string> {
  const base = join(root, `case-${Math.random().toString(36).slice(2)}`);
  for (const [path, text] of Object.entries(files)) {
    const local = join(base, path);
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, text.replaceAll("@BASE@", base));
  }
  return base;
}

/** containerd 1.6's own reading: `config dump` of the main file, imports followed. */
async function dumpSystemdCgroup(mainLocal: string): Promise<{ ok: boolean; systemd?: boolean; stderr: string }> {
  const result = await runTool("containerd", ["--config", mainLocal, "config", "dump"], { timeoutMs: 20_000 });
  if (result.code !== 0) return { ok: false, stderr: result.stderr };
  const runc = /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]([\s\S]*?)\n\s*\[/.exec(result.stdout)?.[1] ?? "";
  return { ok: true, systemd: /SystemdCgroup = true/.test(runc), stderr: result.stderr };
}

const V2 = (systemd: boolean) => `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = ${systemd}\n`;

interface Row {
  name: string;
  files: Record<string, string>;
  systemd: boolean;
  /** containerd 1.6 reads it: `config dump` must agree. */
  judge?: boolean;
}

const ROWS: Row[] = [
  {
    name: "version 1 (no version key): plugins.cri",
    files: { "/c.toml": "[plugins.cri.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n" },
    systemd: true,
    judge: true,
  },
  { name: "version 2", files: { "/c.toml": V2(true) }, systemd: true, judge: true },
  {
    name: "version 2, a multi-line inline table (containerd accepts it)",
    files: {
      "/c.toml":
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n  options = { SystemdCgroup = true,\n    BinaryName = "runc" }\n',
    },
    systemd: true,
    judge: true,
  },
  {
    name: "version 2, keys named __proto__, constructor and toString",
    files: { "/c.toml": `${V2(true)}[plugins."io.containerd.example.v1"]\n  constructor = 2\n  toString = "x"\n  __proto__ = "p"\n` },
    systemd: true,
    judge: true,
  },
  {
    name: "imports: a glob merged over the main file",
    files: { "/c.toml": 'version = 2\nimports = ["@BASE@/conf.d/*.toml"]\n', "/conf.d/10-runc.toml": V2(true) },
    systemd: true,
    judge: true,
  },
  {
    name: "imports: a later import overrides the main file",
    files: { "/c.toml": V2(true).replace("version = 2\n", 'version = 2\nimports = ["@BASE@/conf.d/*.toml"]\n'), "/conf.d/50.toml": V2(false) },
    systemd: false,
    judge: true,
  },
  { name: "imports: an empty glob imports nothing", files: { "/c.toml": 'version = 2\nimports = ["@BASE@/conf.d/*.toml"]\n' }, systemd: false, judge: true },
  {
    name: "version 3 (containerd 2.0): io.containerd.cri.v1.runtime, as kubespray's config.toml.j2 renders it",
    files: {
      "/c.toml":
        'version = 3\nroot = "/var/lib/containerd"\n[plugins]\n  [plugins."io.containerd.cri.v1.runtime"]\n   [plugins."io.containerd.cri.v1.runtime".containerd]\n     default_runtime_name = "runc"\n       [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n         runtime_type = "io.containerd.runc.v2"\n         [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n           SystemdCgroup = true\n  [plugins."io.containerd.cri.v1.images"]\n    snapshotter = "overlayfs"\n',
    },
    systemd: true,
  },
  {
    name: "version 4 (containerd 2.3): same plugin names, the debug listener moved to a plugin",
    files: {
      "/c.toml":
        'version = 4\n[plugins."io.containerd.server.v1.debug"]\n  address = ""\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n[plugins."io.containerd.cri.v1.runtime".cni]\n  bin_dirs = ["/opt/cni/bin"]\n',
    },
    systemd: true,
  },
  {
    name: "version 3 main, version 2 import: each file read under its own version's names",
    files: { "/c.toml": 'version = 3\nimports = ["@BASE@/conf.d/*.toml"]\n', "/conf.d/10.toml": V2(true) },
    systemd: true,
  },
];

describe("containerd config versions 1 to 4 and imports", () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const base = await node(row.files);
      const host = new RootedHost("/");
      const config = await readContainerdConfig(host, `${base}/c.toml`);
      const verdict = containerdCgroupOf(config, `${base}/c.toml`);
      assert.ok(verdict.ok && "systemd" in verdict, JSON.stringify(verdict));
      assert.equal(verdict.systemd, row.systemd, verdict.detail);
      if (row.judge) {
        const real = await dumpSystemdCgroup(join(base, "c.toml"));
        assert.ok(real.ok, `containerd refused it: ${real.stderr}`);
        assert.equal(real.systemd, row.systemd, "containerd's own config dump");
      }
    });
  }

  it("an unknown version is node-doctor not knowing, not containerd refusing", async () => {
    const base = await node({ "/c.toml": "version = 5\n" });
    const config = await readContainerdConfig(new RootedHost("/"), `${base}/c.toml`);
    assert.ok(!config.ok && /version = 5; node-doctor reads containerd config versions 1 to 4/.test(config.problem));
  });

  it("CNI directories come from each version's plugin: bin_dirs (2.x) or bin_dir", async () => {
    const base = await node({ "/c.toml": ROWS.find((r) => r.name.startsWith("version 4"))?.files["/c.toml"] as string });
    assert.deepEqual(containerdCniDirsOf(await readContainerdConfig(new RootedHost("/"), `${base}/c.toml`)), { binDirs: ["/opt/cni/bin"] });
  });

  it("a __proto__ table writes nothing onto Object.prototype", () => {
    const doc = parseToml('[plugins."io.containerd.example.v1".__proto__]\npolluted = true\n[__proto__]\npolluted = true\n');
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    assert.ok(doc["__proto__"] !== undefined && Object.hasOwn(doc, "__proto__"));
  });
});
