/**
 * The agent's own inputs get the same treatment as the node's files: its
 * --config, its --kubeconfig and the files that names (the CA, a client
 * certificate, a tokenFile) are read only when they are regular files, and
 * only up to 1 MiB (a token 64 KiB). A FIFO in their place once hung the
 * process before it logged anything; /dev/zero was read to 662 MiB. Each is
 * now one line naming the path and the problem, at once.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { writeProcess } from "../support/distro-node.js";
import { FakeApiServer } from "../support/fake-apiserver.js";

type Kind = "a FIFO" | "a directory" | "a symlink to /dev/zero" | "2 MiB";

const PROBLEM: Record<Kind, RegExp> = {
  "a FIFO": /is not a regular file/,
  "a directory": /is a directory, expected a file/,
  "a symlink to /dev/zero": /is not a regular file/,
  "2 MiB": /is 2097152 bytes, more than the 1048576 node-doctor reads/,
};

async function make(path: string, kind: Kind): Promise<void> {
  await rm(path, { recursive: true, force: true });
  if (kind === "a FIFO") execFileSync("mkfifo", [path]);
  else if (kind === "a directory") await mkdir(path);
  else if (kind === "a symlink to /dev/zero") await symlink("/dev/zero", path);
  else await writeFile(path, `# ${"x".repeat(2 * 1024 * 1024 - 3)}\n`);
}

let work: string;
let root: string;
let api: FakeApiServer;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "nd-own-"));
  root = join(work, "root");
  await mkdir(root);
  // A kubelet on the node, so the kubelet check asks the API server about its Node.
  await writeProcess(root, { pid: 4242, exe: "/usr/bin/kubelet", argv: ["/usr/bin/kubelet"] });
  api = await FakeApiServer.start();
  api.seedNode("n");
});
after(async () => {
  await api.close();
  await rm(work, { recursive: true, force: true });
});

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  return lines[0] as string;
}

describe("the agent's own inputs are regular files of bounded size", () => {
  for (const kind of Object.keys(PROBLEM) as Kind[]) {
    it(`--config as ${kind}: exit 3 with one line naming it`, async () => {
      const config = join(work, "config.yaml");
      await make(config, kind);
      const result = await runCli(["check", "--host-root", root, "--config", config], { timeoutMs: 15_000 });
      assert.equal(result.code, 3, result.stderr);
      const line = oneLine(result.stderr);
      assert.ok(line.startsWith(`node-doctor: --config ${config}: `), line);
      assert.match(line, PROBLEM[kind]);
    });

    it(`--kubeconfig as ${kind}: exit 3 with one line naming it`, async () => {
      const kubeconfig = join(work, "kubeconfig");
      await make(kubeconfig, kind);
      const result = await runCli(["check", "--host-root", root, "--kubeconfig", kubeconfig, "--node-name", "n"], { timeoutMs: 15_000 });
      assert.equal(result.code, 3, result.stderr);
      const line = oneLine(result.stderr);
      assert.ok(line.includes(`kubeconfig ${kubeconfig}: `), line);
      assert.match(line, PROBLEM[kind]);
    });
  }

  for (const [file, auth] of [
    ["ca.crt", "token"],
    ["client.crt", "cert"],
  ] as const) {
    for (const kind of ["a FIFO", "a symlink to /dev/zero"] as const) {
      it(`the kubeconfig's ${file} as ${kind}: exit 3 with one line naming it`, async () => {
        const dir = await mkdtemp(join(work, "kc-"));
        const kubeconfig = await api.writeKubeconfig(dir, { files: true, auth });
        await make(join(dir, file), kind);
        const result = await runCli(["check", "--host-root", root, "--kubeconfig", kubeconfig, "--node-name", "n"], { timeoutMs: 15_000 });
        assert.equal(result.code, 3, result.stderr);
        const line = oneLine(result.stderr);
        assert.ok(line.includes(`cannot read ${join(dir, file)}: `), line);
        assert.match(line, PROBLEM[kind]);
      });
    }
  }

  it("the kubeconfig's tokenFile as a FIFO: the API is unusable, named, and the run ends", async () => {
    const dir = await mkdtemp(join(work, "kc-"));
    const kubeconfig = await api.writeKubeconfig(dir, { files: true, auth: "token" });
    assert.match(await readFile(kubeconfig, "utf8"), /tokenFile:/);
    await make(join(dir, "token"), "a FIFO");
    const result = await runCli(["check", "--host-root", root, "--kubeconfig", kubeconfig, "--node-name", "n", "--only", "kubelet", "--output", "json"], {
      timeoutMs: 20_000,
    });
    assert.ok(result.code !== null && result.code <= 3, result.stderr);
    assert.match(result.stdout + result.stderr, new RegExp(`${join(dir, "token").replace(/[/.]/g, "\\$&")}: cannot read the token: is not a regular file`));
  });
});
