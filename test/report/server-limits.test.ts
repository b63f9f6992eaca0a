/**
 * The agent's port under abuse, against the bundled agent with its own V8
 * flags: 10,000 keep-alive connections left idle after a request, then 1,000
 * slow-loris clients sending headers a line every 2 s. /metrics and /healthz
 * keep answering, and the agent's memory stays bounded and comes back (10,000
 * idle connections once took it from 62 to 154 MiB, for good). Counts and
 * time are bounded. Latency is asserted only as "every answer well within a
 * scrape timeout" (this machine's cores are shared: timings are figures, not
 * assertions); the figures are printed (docs/performance.md has them).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { AGENT_NODE_FLAGS } from "../../scripts/node-flags.mjs";
import { checksOff } from "../../src/checks/index.js";
import { startAgentProcess } from "../support/cli.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";

const CONNECTIONS = 10_000;
const LORIS = 1_000;
/** A tenth of Prometheus' default scrape timeout. */
const ANSWER_WITHIN_MS = 1_000;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

/** One GET on a fresh connection; the time to the whole answer, in ms. */
async function timedGet(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { connection: "close" }, signal: AbortSignal.timeout(5_000) });
  assert.equal(response.status, 200, `${url}: ${response.status}`);
  await response.text();
  return performance.now() - started;
}

async function probe(base: string, count: number): Promise<{ p50: number; p99: number; max: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await timedGet(`${base}${i % 2 ? "/healthz" : "/metrics"}`));
  times.sort((a, b) => a - b);
  return {
    p50: times[Math.floor(times.length / 2)] ?? NaN,
    p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? NaN,
    max: times[times.length - 1] ?? NaN,
  };
}

/** Opens a connection, sends one keep-alive request, reads the answer, and leaves the connection open. */
function idleKeepAlive(port: number, sockets: Socket[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.once("connect", () => socket.write("GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n"));
    socket.once("data", () => resolve());
  });
}

describe("the agent's port under abuse", () => {
  let root: FixtureRoot;
  let child: ChildProcess;
  let base: string;
  let port: number;
  before(async () => {
    root = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
    await root.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await root.writeMountinfo();
    const config = join(root.root, "node-doctor.yaml");
    await writeFile(config, JSON.stringify({ checks: checksOff(["disk"]) }));
    const agent = await startAgentProcess(["--host-root", root.root, "--listen", "127.0.0.1:0", "--config", config], {}, AGENT_NODE_FLAGS);
    assert.doesNotMatch(agent.output(), /without the agent's V8 flags/, "measured with the agent's own flags");
    child = agent.child;
    base = agent.address;
    port = Number(new URL(base).port);
    await probe(base, 20); // warm: the first renders allocate what every later one reuses
    const unabused = await probe(base, 100);
    process.stdout.write(`# unabused: p50 ${unabused.p50.toFixed(1)} ms, p99 ${unabused.p99.toFixed(1)} ms, max ${unabused.max.toFixed(1)} ms\n`);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    await root?.cleanup();
  });

  it(`${CONNECTIONS} idle keep-alive connections: /metrics and /healthz answer, memory bounded and given back`, async () => {
    const pid = child.pid as number;
    const before = await rssMiB(pid);
    const sockets: Socket[] = [];
    let peak = before;
    try {
      for (let i = 0; i < CONNECTIONS; i += 500) {
        await Promise.all(Array.from({ length: 500 }, () => idleKeepAlive(port, sockets)));
        peak = Math.max(peak, await rssMiB(pid));
      }
      const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === "open").length;
      const during = await probe(base, 100);
      peak = Math.max(peak, await rssMiB(pid));
      process.stdout.write(
        `# ${CONNECTIONS} connections: ${stillOpen} still open; /metrics+/healthz p50 ${during.p50.toFixed(1)} ms, p99 ${during.p99.toFixed(1)} ms, max ${during.max.toFixed(1)} ms; RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB\n`,
      );
      assert.ok(stillOpen <= 256, `the agent holds at most 256 connections (held ${stillOpen})`);
      assert.ok(during.max <= ANSWER_WITHIN_MS, `slowest answer ${during.max.toFixed(1)} ms`);
      assert.ok(peak - before < 25, `RSS grew ${(peak - before).toFixed(1)} MiB (${before.toFixed(1)} -> ${peak.toFixed(1)})`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const afterwards = await rssMiB(pid);
    process.stdout.write(`# after they closed: RSS ${afterwards.toFixed(1)} MiB\n`);
    assert.ok(afterwards - before < 15, `RSS stayed ${(afterwards - before).toFixed(1)} MiB above where it was`);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it(`${LORIS} slow-loris clients sending headers a line every 2 s: /metrics answers, they are cut off`, async () => {
    const sockets: Socket[] = [];
    let cut = 0;
    const trickle: NodeJS.Timeout[] = [];
    try {
      await Promise.all(
        Array.from(
          { length: LORIS },
          () =>
            new Promise<void>((resolve) => {
              const socket = connect(port, "127.0.0.1");
              sockets.push(socket);
              socket.on("error", () => undefined);
              socket.on("close", () => cut++);
              socket.once("connect", () => {
                socket.write("GET /metrics HTTP/1.1\r\nHost: agent\r\n");
                let n = 0;
                trickle.push(setInterval(() => !socket.destroyed && socket.write(`X-Slow-${n++}: y\r\n`), 2000));
                resolve();
              });
              setTimeout(resolve, 2000).unref();
            }),
        ),
      );
      const during = await probe(base, 100);
      process.stdout.write(
        `# ${LORIS} slow clients: p50 ${during.p50.toFixed(1)} ms, p99 ${during.p99.toFixed(1)} ms, max ${during.max.toFixed(1)} ms; ${cut} cut off so far\n`,
      );
      assert.ok(during.max <= ANSWER_WITHIN_MS, `slowest answer ${during.max.toFixed(1)} ms`);
      // Those not already evicted to make room are cut by the headers timeout (5 s, checked every 2 s).
      const deadline = Date.now() + 12_000;
      while (cut < LORIS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(cut, LORIS, `${LORIS - cut} slow clients still connected after 12 s`);
    } finally {
      for (const timer of trickle) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    }
  });
});
