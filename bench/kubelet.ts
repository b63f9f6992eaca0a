/**
 * What the kubelet check costs the bundled agent: RSS with the check on a
 * healthy kubeadm fixture node (systemd on a real dbus-daemon, kubelet's
 * healthz answering) against the same agent with the check disabled, and
 * the check's run time from the agent's own metrics.
 *
 *   npm run bench -- kubelet [--seconds=N]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { startFakeSystemd } from "../test/support/fake-systemd.js";
import { fixtureRoot } from "../test/support/fixture-root.js";

const BUNDLE = new URL("../dist/node-doctor.mjs", import.meta.url).pathname;

function option(args: string[], name: string, fallback: string): string {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

async function unixSockets(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (target.startsWith("socket:")) n++;
  }
  return n;
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

async function measure(label: string, hostRoot: string, config: string, seconds: number) {
  const agent: ChildProcess = spawn(
    process.execPath,
    [...AGENT_NODE_FLAGS, BUNDLE, "run", "--host-root", hostRoot, "--listen", "127.0.0.1:0", "--node-name", "node-a", "--config", config],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = "";
      agent.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const match = /serving on (http:\/\/\S+)/.exec(out);
        if (match && out.includes("Summary:")) resolve(match[1] as string);
      });
      agent.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
    });
    await new Promise((r) => setTimeout(r, 10_000));
    const rss: number[] = [];
    const sockets: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      rss.push(await rssKiB(agent.pid as number));
      sockets.push(await unixSockets(agent.pid as number));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const metrics = await fetchText(`${address}/metrics`);
    const sum = Number(/node_doctor_check_duration_seconds_sum\{[^}]*check="kubelet"[^}]*\} (\S+)/.exec(metrics)?.[1] ?? NaN);
    const count = Number(/node_doctor_check_duration_seconds_count\{[^}]*check="kubelet"[^}]*\} (\S+)/.exec(metrics)?.[1] ?? NaN);
    return {
      label,
      rssMiB: rss[rss.length - 1]! / 1024,
      rssMaxMiB: Math.max(...rss) / 1024,
      maxSockets: Math.max(...sockets),
      meanRunMs: (sum / count) * 1000,
      runs: count,
    };
  } finally {
    await new Promise<void>((resolve) => {
      if (agent.exitCode !== null) return resolve();
      agent.once("exit", () => resolve());
      agent.kill("SIGTERM");
    });
  }
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(option(args, "seconds", "30"));
  const fixture = await fixtureRoot("kubelet-healthy");
  const systemd = await startFakeSystemd(join(fixture.root, "run/dbus/system_bus_socket"), {
    units: {
      "kubelet.service": {
        Unit: { LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled" },
        Service: { Result: "success", NRestarts: 0, MainPID: 4242 },
      },
    },
  });
  const healthz = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => healthz.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(healthz.address() as AddressInfo).port}/healthz`;
  const on = join(fixture.root, "..", `${fixture.root.split("/").at(-1)}-on.yaml`);
  const off = join(fixture.root, "..", `${fixture.root.split("/").at(-1)}-off.yaml`);
  await writeFile(on, `checks:\n  kubelet:\n    healthzUrl: ${url}\n`);
  await writeFile(off, `checks:\n  kubelet:\n    enabled: false\n`);
  try {
    process.stdout.write(`node ${process.version}; warming up 10 s, then sampling ${seconds} s per variant …\n`);
    const results = [
      await measure("kubelet check off", fixture.root, off, seconds),
      await measure("kubelet check on (D-Bus, healthz every 10 s)", fixture.root, on, seconds),
    ];
    await systemd.stopBus();
    results.push(await measure("kubelet check on, no bus socket (unit files only)", fixture.root, on, seconds));
    process.stdout.write("\n| agent | RSS MiB (end) | RSS MiB (max) | unix+tcp sockets (max) | kubelet run mean ms | runs |\n|---|---|---|---|---|---|\n");
    for (const r of results) {
      process.stdout.write(
        `| ${r.label} | ${r.rssMiB.toFixed(1)} | ${r.rssMaxMiB.toFixed(1)} | ${r.maxSockets} | ${Number.isFinite(r.meanRunMs) ? r.meanRunMs.toFixed(1) : "—"} | ${Number.isFinite(r.runs) ? r.runs : "—"} |\n`,
      );
    }
  } finally {
    healthz.close();
    await systemd.stop();
    await fixture.cleanup();
  }
}
