/**
 * The hot path spawns nothing: the built agent, traced with strace for every
 * execve of itself and its descendants, starts no process while custom checks
 * of every declarative kind (file, sysctl, unit, tcp, http) run each second.
 * The npd-plugin probe is the one place it spawns on an interval; configured,
 * the same trace shows exactly the plugin's executions (so the trace would see
 * any other).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { BUNDLE, NODE } from "../support/cli.js";
import { freePort, waitFor } from "../support/prometheus.js";
import { requireTool } from "../support/tools.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

/**
 * The successful execve/execveat calls in an strace -f log. Under -f a call another process interrupts is split
 * into `PID execve(... <unfinished ...>` and a later `PID <... execve resumed>) = R`: joined here, so a split
 * call is counted once and by its result.
 */
function successfulExecs(log: string): string[] {
  const pending = new Map<string, string>();
  const calls: string[] = [];
  for (const line of log.split("\n")) {
    const pid = /^(\d+) /.exec(line)?.[1] ?? "";
    const started = /\bexecve(at)?\(/.test(line);
    if (started && line.endsWith("<unfinished ...>")) pending.set(pid, line.slice(0, -"<unfinished ...>".length));
    else if (/<\.\.\. execve(at)? resumed>/.test(line) && pending.has(pid)) {
      calls.push(`${pending.get(pid) ?? ""}${line.slice(line.indexOf("resumed>") + "resumed>".length)}`);
      pending.delete(pid);
    } else if (started) calls.push(line);
  }
  return calls.filter((call) => / = 0$/.test(call));
}

/** A counter or histogram count of the agent's /metrics, per check: {"custom/plugin": 3}. */
async function perCheck(port: number, series: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${series}\\{[^}]*check="([^"]+)"[^}]*\\} (\\d+)$`, "gm"))) counts.set(m[1] ?? "", Number(m[2]));
  return counts;
}

/**
 * Runs the agent under strace until every custom check ran `rounds` times, and each npd-plugin check started its
 * plugin `rounds` times (the agent's own count of what it spawned: a condition, not a time), then stops it;
 * returns every execve it (or a child) made that succeeded.
 */
async function tracedExecs(
  dir: string,
  custom: ReadonlyArray<{ name: string; probe: { kind: string } & Record<string, unknown> } & Record<string, unknown>>,
  rounds: number,
): Promise<string[]> {
  const strace = requireTool("strace");
  const log = join(dir, "exec.log");
  const config = join(dir, "config.yaml");
  await writeFile(config, stringify({ checks: { custom } }));
  const port = await freePort();
  const child = spawn(
    strace,
    [
      "-f",
      "-qq",
      "-e",
      "trace=execve,execveat",
      "-o",
      log,
      NODE,
      BUNDLE,
      "run",
      "--config",
      config,
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
    // Each custom check runs every second: wait until every one of them ran `rounds` times, and every plugin was started as often.
    const plugins = custom.filter((c) => c.probe.kind === "npd-plugin").map((c) => `custom/${c.name}`);
    const done = async () => {
      const runs = await perCheck(port, "node_doctor_check_duration_seconds_count");
      const spawned = await perCheck(port, "node_doctor_custom_processes_spawned_total");
      const ran = custom.every((c) => (runs.get(`custom/${c.name}`) ?? 0) >= rounds);
      return ran && plugins.every((name) => (spawned.get(name) ?? 0) >= rounds) ? true : undefined;
    };
    await waitFor(`${rounds} runs of each custom check and ${rounds} starts of each plugin`, done, { timeoutMs: 60_000, output: () => out });
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const agentPid = execFileSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" })
      .trim()
      .split("\n")[0];
    if (agentPid) process.kill(Number(agentPid), "SIGTERM");
    else child.kill("SIGKILL");
    await exited;
  }
  return successfulExecs(await readFile(log, "utf8"));
}

describe("processes the agent starts", { timeout: 120_000 }, () => {
  let dir: string;
  let server: import("node:http").Server;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nd-exec-"));
    const { createServer } = await import("node:http");
    server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address() as import("node:net").AddressInfo;
    url = `http://127.0.0.1:${address.port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const declarative = () => [
    { name: "kubelet-dir", condition: "KubeletDirMissing", intervalSeconds: 1, probe: { kind: "file", path: "/var/lib/kubelet", maxMode: "0755" } },
    { name: "forwarding", condition: "ForwardingOff", intervalSeconds: 1, probe: { kind: "sysctl", key: "vm.overcommit_memory", op: "in", value: [0, 1] } },
    {
      name: "containerd",
      condition: "ContainerdDown",
      intervalSeconds: 1,
      probe: { kind: "unit", unit: "containerd.service", unitFileState: ["enabled"], activeState: [] },
    },
    { name: "endpoint", condition: "EndpointDown", intervalSeconds: 1, probe: { kind: "tcp", host: "127.0.0.1", port: Number(new URL(url).port) } },
    { name: "web", condition: "WebDown", intervalSeconds: 1, probe: { kind: "http", url } },
  ];

  it("none, with custom checks of every declarative kind running each second", async () => {
    const execs = await tracedExecs(dir, declarative(), 3);
    assert.equal(execs.length, 1, `only node itself is executed:\n${execs.join("\n")}`);
    assert.match(execs[0] ?? "", new RegExp(`execve\\("${NODE.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`));
  });

  it("with an npd-plugin check: exactly the plugin's runs, each its own execution", async () => {
    const plugin = join(FIXTURES, "npd-plugins/protocol/exit-0.sh");
    const execs = await tracedExecs(
      dir,
      [...declarative(), { name: "plugin", condition: "PluginSaysNo", intervalSeconds: 1, probe: { kind: "npd-plugin", path: plugin } }],
      3,
    );
    const others = execs.slice(1);
    const plugins = others.filter((line) => line.includes(`execve("${plugin}"`));
    assert.ok(plugins.length >= 3, `the plugin ran at least 3 times:\n${execs.join("\n")}`);
    // Its #! line (/bin/sh) is followed by the kernel within the same execve, and sh's echo is a builtin: nothing else runs.
    assert.deepEqual(
      others.filter((line) => !line.includes(`execve("${plugin}"`)),
      [],
      "no other execution",
    );
    assert.match(plugins[0] ?? "", /\/\* 2 vars \*\//, "the plugin gets PATH and NODE_DOCTOR_HOST_ROOT, nothing of the agent's environment");
  });
});
