/**
 * Faults a node agent meets over months, each with its own assertion:
 * SIGTERM while a PATCH hangs, processes exiting mid-scan, host files
 * vanishing mid-read, and the agent's own writes (it makes none: every file
 * it opens, it opens read-only, so a full or read-only root cannot hurt it).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createCertificatesCheck, certificateSettings } from "../../src/checks/certificates/index.js";
import { systemClock } from "../../src/time/clock.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { findProcessesByName } from "../../src/node/proc.js";
import { BUNDLE, NODE, startAgentProcess } from "../support/cli.js";
import { checkContext } from "../support/check-context.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { freePort, waitFor } from "../support/prometheus.js";
import { requireTool } from "../support/tools.js";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

describe("faults", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nd-faults-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("SIGTERM while a PATCH to the API server hangs: the agent exits 0 within 5 s", async () => {
    const api = await FakeApiServer.start();
    try {
      api.seedNode("term-1");
      api.fault({ resource: "nodes/status", verb: "patch" }, { hang: true, times: 1000 });
      const kubeconfig = await api.writeKubeconfig(dir, { name: "term-kubeconfig" });
      const port = await freePort();
      const agent = await startAgentProcess([
        "--host-root",
        join(FIXTURES, "disk-healthy"),
        "--kubeconfig",
        kubeconfig,
        "--node-name",
        "term-1",
        "--listen",
        `127.0.0.1:${port}`,
      ]);
      await waitFor(
        "the agent's first PATCH to hang",
        async () => (api.requestsTo({ resource: "nodes/status", verb: "patch" }).length > 0 ? true : undefined),
        { timeoutMs: 20_000, output: agent.output },
      );
      const started = Date.now();
      const exited = new Promise<number | null>((resolve) => agent.child.once("exit", (code) => resolve(code)));
      agent.child.kill("SIGTERM");
      const code = await exited;
      assert.equal(code, 0, agent.output());
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    } finally {
      await api.close();
    }
  });

  it("processes exiting while /proc is scanned are skipped, never an error", async () => {
    const host = new RootedHost("/");
    const children: ChildProcess[] = [];
    let churning = true;
    const churn = (async () => {
      while (churning) {
        children.push(spawn("sleep", ["0.01"], { stdio: "ignore" }));
        if (children.length > 40) children.shift();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      for (let i = 0; i < 10; i++) {
        const found = await findProcessesByName(host, "sleep");
        assert.ok(found.every((p) => p.comm === "sleep" && p.pid > 0));
      }
    } finally {
      churning = false;
      await churn;
    }
  });

  it("certificate files vanishing and reappearing mid-read give findings, never a throw", async () => {
    const root = await mkdtemp(join(dir, "vanish-"));
    const pki = join(root, "var/lib/kubelet/pki");
    await import("node:fs/promises").then((fs) => fs.mkdir(pki, { recursive: true }));
    const check = createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), {
      kubelet: new KubeletLocator(new RootedHost(root), systemClock),
    });
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let flipping = true;
    const flip = (async () => {
      for (let i = 0; flipping; i++) {
        const current = join(pki, "kubelet-client-current.pem");
        await unlink(current).catch(() => undefined);
        if (i % 3 === 0) await symlink(join("/var/lib/kubelet/pki", `gone-${i}.pem`), current).catch(() => undefined);
        else await writeFile(current, i % 2 ? pem : "").catch(() => undefined);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      for (let i = 0; i < 50; i++) {
        const findings = await check.run(checkContext(root));
        for (const f of findings) assert.ok(f.reason && f.message, JSON.stringify(f));
      }
    } finally {
      flipping = false;
      await flip;
    }
  });

  it("the agent writes nothing: every file it opens, it opens read-only", async () => {
    const strace = requireTool("strace");
    const log = join(dir, "strace.log");
    const port = await freePort();
    const child = spawn(
      strace,
      [
        "-f",
        "-qq",
        "-e",
        "trace=openat,open,creat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,truncate,ftruncate,link,symlink",
        "-o",
        log,
        NODE,
        BUNDLE,
        "run",
        "--host-root",
        join(FIXTURES, "disk-healthy"),
        "--listen",
        `127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await waitFor("the agent's first diagnosis", async () => (/Summary:/.test(out) ? true : undefined), { timeoutMs: 30_000, output: () => out });
      // Scrape and read findings too: serving must not write either.
      for (const path of ["/metrics", "/findings", "/readyz"]) await fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text());
    } finally {
      // Stop the traced agent itself (strace exits when its tracee does): shutdown must not write either.
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const agentPid = execFileSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" })
        .trim()
        .split("\n")[0];
      if (agentPid) process.kill(Number(agentPid), "SIGTERM");
      else child.kill("SIGKILL");
      await exited;
    }
    const calls = (await readFile(log, "utf8")).split("\n").filter(Boolean);
    assert.ok(calls.length > 10, "strace recorded the agent's file calls");
    const writes = calls.filter((line) => {
      if (/ = -1 /.test(line)) return false; // failed calls change nothing
      if (/\b(open|openat)\(/.test(line)) return !/O_RDONLY/.test(line) && !/"\/dev\/(null|tty|pts\/\d+)"/.test(line);
      return /\b(creat|rename|renameat2?|unlink|unlinkat|mkdir|mkdirat|truncate|ftruncate|link|symlink)\(/.test(line);
    });
    assert.deepEqual(writes, [], "the agent must not create, modify or remove files");
  });
});
