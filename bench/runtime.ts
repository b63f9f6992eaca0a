/**
 * `npm run bench -- runtime [--seconds=N]`: what the runtime check costs
 * against a real containerd (Debian's, started here as root): the duration
 * of one run (four CRI calls on the kept connection, plus the CNI files),
 * and the bundled agent's resident memory with the runtime check running
 * every second versus disabled, so node:http2's share of the budget shows.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRuntimeCheck, runtimeSettings } from "../src/checks/runtime/index.js";
import { systemClock } from "../src/time/clock.js";
import { KubeletLocator } from "../src/node/kubelet/locator.js";
import { RootedHost } from "../src/node/host.js";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { checkContext } from "../test/support/check-context.js";
import { startContainerd } from "../test/support/containerd.js";
import { fixtureRoot } from "../test/support/fixture-root.js";

const BUNDLE = new URL("../dist/node-doctor.mjs", import.meta.url).pathname;

function option(args: string[], name: string, fallback: string): string {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 6000).unref();
  });
}

/** Runs the bundled agent on `root` with `config`; RSS after `seconds` (max over the last half). */
async function agentRss(root: string, config: string, seconds: number): Promise<{ end: number; max: number }> {
  const agent = spawn(
    process.execPath,
    [...AGENT_NODE_FLAGS, BUNDLE, "run", "--host-root", root, "--config", config, "--listen", "127.0.0.1:0", "--node-name", "bench"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      agent.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Summary:")) resolve();
      });
      agent.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
    });
    const samples: number[] = [];
    for (let i = 0; i < seconds; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (i >= seconds / 2) samples.push(await rssMiB(agent.pid as number));
    }
    return { end: samples.at(-1) ?? NaN, max: Math.max(...samples) };
  } finally {
    await stop(agent);
  }
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(option(args, "seconds", "30"));
  const fixture = await fixtureRoot("runtime-cni-valid");
  const containerd = await startContainerd(fixture.root);
  try {
    const check = createRuntimeCheck(runtimeSettings.parse({}, "checks.runtime"), { kubelet: new KubeletLocator(new RootedHost(fixture.root), systemClock) });
    const durations: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const findings = await check.run(checkContext(fixture.root));
      durations.push(performance.now() - started);
      if (i === 0) process.stdout.write(`first run: ${findings.map((f) => `${f.reason}: ${f.message}`).join("; ")}\n`);
    }
    durations.sort((a, b) => a - b);
    const mean = durations.reduce((s, d) => s + d, 0) / durations.length;
    process.stdout.write(
      `runtime check against containerd 1.6, 200 runs: mean ${mean.toFixed(2)} ms, p50 ${durations[100]?.toFixed(2)} ms, p99 ${durations[198]?.toFixed(2)} ms\n`,
    );

    const on = join(fixture.root, "bench-on.yaml");
    const off = join(fixture.root, "bench-off.yaml");
    await writeFile(on, "checks:\n  runtime:\n    intervalSeconds: 1\n");
    await writeFile(off, "checks:\n  runtime:\n    enabled: false\n");
    process.stdout.write(`bundled agent RSS, ${seconds} s each (max over the second half):\n`);
    const without = await agentRss(fixture.root, off, seconds);
    const withRuntime = await agentRss(fixture.root, on, seconds);
    process.stdout.write(`| agent | RSS MiB (end) | RSS MiB (max) |\n|---|---|---|\n`);
    process.stdout.write(`| runtime check disabled | ${without.end.toFixed(1)} | ${without.max.toFixed(1)} |\n`);
    process.stdout.write(`| runtime check every 1 s against containerd | ${withRuntime.end.toFixed(1)} | ${withRuntime.max.toFixed(1)} |\n`);
  } finally {
    await containerd.stop();
    await fixture.cleanup();
  }
}
