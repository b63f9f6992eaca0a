/**
 * The kernel check in an OOM flood: NPD turned a node whose containers hit
 * their own memory limits 4,500 times a minute into a CPU problem. The
 * bundled agent (the kernel check on the journal, the other checks off so
 * the difference is the kernel check's) follows a real journal written by
 * systemd-journal-remote, first quiet, then while this process writes
 * `--per-minute` OOM lines: memcg OOM kills, each a
 * `oom-kill:constraint=CONSTRAINT_MEMCG,…` summary and its `Memory cgroup out
 * of memory: Killed process …` line as the kernel prints them (two lines a
 * kill, both matched: the costly case), for `--seconds`. Figures: the agent's CPU
 * millicores and RSS quiet and in the flood, its journalctl child's CPU, and
 * the kills it counted (node_doctor_kernel_oom_kills_total{kind="memcg"}) when
 * the flood stopped and how long after it had counted them all.
 *
 * `--bundle=PATH` runs another build's bundle beside this one on the same
 * journal (each with its own journalctl child), so a change is measured
 * against the previous build under the same load and noise.
 *
 *   npm run bench -- kernel-flood [--quiet-seconds=120] [--seconds=300] [--per-minute=4500] [--samples-per-second=N] [--with=kubelet-logs] [--bundle=PATH]
 */
import type { ChildProcess } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { CHECK_NAMES, checksOff } from "../src/checks/index.js";
import { fixtureRoot } from "../test/support/fixture-root.js";
import { startJournalWriter } from "./kubelet-journal.js";
import { BUNDLE, CLOCK_TICKS, cpuTicks, getText, option, rssKiB, startBundledAgent, stop } from "./support.js";

/** One memcg OOM kill as the kernel reports it: the summary, then the kill. */
function oomKill(i: number): string[] {
  const pod = `3b8e6c2a-1f4d-4e0a-9b7c-${String(i % 1000).padStart(12, "0")}`;
  const container = (i % 97).toString(16).padStart(2, "0").repeat(32);
  const memcg = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${pod.replaceAll("-", "_")}.slice/cri-containerd-${container}.scope`;
  const pid = 10_000 + (i % 50_000);
  return [
    `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-${container}.scope,mems_allowed=0,oom_memcg=${memcg},task_memcg=${memcg},task=stress,pid=${pid},uid=0`,
    `Memory cgroup out of memory: Killed process ${pid} (stress) total-vm:268380kB, anon-rss:262144kB, file-rss:264kB, shmem-rss:0kB, UID:0 pgtables:572kB oom_score_adj:968`,
  ];
}

async function journalctlPids(parent: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      if (stat.includes("(journalctl)") && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

interface Agent {
  /** Which build: "this" or the --bundle path. */
  build: string;
  child: ChildProcess;
  address: string;
}

interface Phase {
  name: string;
  build: string;
  seconds: number;
  agentMillicores: number;
  journalctlMillicores: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  killsOffered: number;
  /** Counted when the flood stopped, and up to 60 s later. */
  killsCountedAtEnd: number;
  killsCounted: number;
  /** Seconds after the flood stopped until every kill was counted (absent: not within 60 s). */
  caughtUpSeconds?: number;
}

async function memcgKills(address: string): Promise<number> {
  const text = await getText(`${address}/metrics`);
  return Number(/^node_doctor_kernel_oom_kills_total\{kind="memcg"[^}]*\} (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** Where one agent stands: its CPU ticks and its journalctl children's, its count of kills, its RSS. */
interface Standing {
  ticks: number;
  childTicks: number;
  kills: number;
  rss: number;
}

async function standing(agent: Agent, children: number[]): Promise<Standing> {
  const pid = agent.child.pid as number;
  const childTicks = (await Promise.all(children.map(cpuTicks))).reduce((a, b) => a + b, 0);
  return { ticks: await cpuTicks(pid), childTicks, kills: await memcgKills(agent.address), rss: await rssKiB(pid) };
}

/** One phase, every agent measured over the same seconds of the same journal. */
async function phase(name: string, agents: Agent[], seconds: number, perMinute: number, write: (lines: string[]) => Promise<void>): Promise<Phase[]> {
  const children = await Promise.all(agents.map((a) => journalctlPids(a.child.pid as number)));
  const before = await Promise.all(agents.map((a, i) => standing(a, children[i] as number[])));
  const rssMax = before.map((b) => b.rss);
  let offered = 0;
  const t0 = performance.now();
  // 10 batches a second.
  // Two lines a kill.
  const perTick = perMinute / 2 / 600;
  let owed = 0;
  for (let tick = 0; tick < seconds * 10; tick++) {
    const wait = t0 + tick * 100 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    owed += perTick;
    const lines: string[] = [];
    while (owed >= 1) {
      lines.push(...oomKill(offered++));
      owed--;
    }
    if (lines.length > 0) await write(lines);
    if (tick % 10 === 0) for (const [i, a] of agents.entries()) rssMax[i] = Math.max(rssMax[i] as number, await rssKiB(a.child.pid as number));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const after = await Promise.all(agents.map((a, i) => standing(a, children[i] as number[])));
  // The count is published by each run (interval 15 s): wait up to 60 s for the runs to count what is left.
  const counted = async (i: number) => (await memcgKills((agents[i] as Agent).address)) - (before[i] as Standing).kills;
  const caughtUp: Array<number | undefined> = after.map((a, i) => (a.kills - (before[i] as Standing).kills >= offered ? 0 : undefined));
  const end = performance.now();
  while (caughtUp.includes(undefined) && performance.now() - end < 60_000) {
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < agents.length; i++) if (caughtUp[i] === undefined && (await counted(i)) >= offered) caughtUp[i] = (performance.now() - end) / 1000;
  }
  const phases: Phase[] = [];
  for (const [i, agent] of agents.entries()) {
    const b = before[i] as Standing;
    const a = after[i] as Standing;
    const rssEnd = await rssKiB(agent.child.pid as number);
    const caughtUpSeconds = caughtUp[i];
    phases.push({
      name,
      build: agent.build,
      seconds: elapsed,
      agentMillicores: ((a.ticks - b.ticks) / CLOCK_TICKS / elapsed) * 1000,
      journalctlMillicores: ((a.childTicks - b.childTicks) / CLOCK_TICKS / elapsed) * 1000,
      rssStartMiB: b.rss / 1024,
      rssMaxMiB: Math.max(rssMax[i] as number, rssEnd) / 1024,
      rssEndMiB: rssEnd / 1024,
      killsOffered: offered,
      killsCountedAtEnd: a.kills - b.kills,
      killsCounted: await counted(i),
      ...(caughtUpSeconds !== undefined ? { caughtUpSeconds } : {}),
    });
  }
  return phases;
}

export async function run(args: string[]): Promise<void> {
  const quietSeconds = Number(option(args, "quiet-seconds", "120"));
  const seconds = Number(option(args, "seconds", "300"));
  const perMinute = Number(option(args, "per-minute", "4500"));
  const fixture = await fixtureRoot();
  const journal = await startJournalWriter(
    fixture.root,
    { _TRANSPORT: "kernel", SYSLOG_IDENTIFIER: "kernel", PRIORITY: "3" },
    "Linux version 6.6.0 (bench) #1 SMP PREEMPT_DYNAMIC",
  );
  const config = join(fixture.root, "node-doctor.json");
  // --with=kubelet-logs,…: checks left on beside the kernel check (kubelet-logs shares its journalctl child, as on a real node).
  const kept = option(args, "with", "").split(",").filter(Boolean);
  const unknown = kept.filter((c) => !(CHECK_NAMES as readonly string[]).includes(c));
  if (unknown.length > 0) throw new Error(`kernel-flood: --with names no check: ${unknown.join(", ")} (checks: ${CHECK_NAMES.join(", ")})`);
  const checks: Record<string, unknown> = checksOff(["kernel", ...kept]);
  // --samples-per-second: the kernel check's setting (default its own), to see what reading the sampled lines costs.
  const samples = option(args, "samples-per-second", "");
  if (samples) checks["kernel"] = { samplesPerSecond: Number(samples) };
  await writeFile(config, JSON.stringify({ checks }));
  const agentArgs = ["--host-root", fixture.root, "--listen", "127.0.0.1:0", "--node-name", "bench-node", "--config", config];
  const other = option(args, "bundle", "");
  const builds = other ? [BUNDLE, other] : [BUNDLE];
  const agents: Agent[] = [];
  const phases: Phase[] = [];
  try {
    for (const bundle of builds) {
      const started = await startBundledAgent(AGENT_NODE_FLAGS, agentArgs, bundle);
      started.child.stdout?.resume();
      started.child.stderr?.resume();
      agents.push({ build: bundle === BUNDLE ? "this" : bundle, ...started });
    }
    // Settle first: the first runs allocate what the agent keeps.
    await new Promise((r) => setTimeout(r, 30_000));
    process.stdout.write(`quiet: ${quietSeconds} s …\n`);
    phases.push(...(await phase("quiet", agents, quietSeconds, 0, journal.write)));
    process.stdout.write(`flood: ${perMinute} OOM lines a minute (${perMinute / 2} memcg kills, ${perMinute / 60} kernel lines/s) for ${seconds} s …\n`);
    phases.push(...(await phase("flood", agents, seconds, perMinute, journal.write)));
  } finally {
    for (const agent of agents) await stop(agent.child);
    await journal.stop();
    await fixture.cleanup();
  }
  process.stdout.write(
    `\nNode ${process.version}, ${AGENT_NODE_FLAGS.join(" ")}\n\n| phase | build | seconds | agent CPU millicores | journalctl CPU millicores | agent RSS MiB start / max / end | memcg OOM kills offered / counted at the end / within 60 s | all counted after |\n|---|---|---|---|---|---|---|---|\n`,
  );
  for (const p of phases) {
    process.stdout.write(
      `| ${p.name} | ${p.build} | ${p.seconds.toFixed(0)} | ${p.agentMillicores.toFixed(2)} | ${p.journalctlMillicores.toFixed(2)} | ${p.rssStartMiB.toFixed(1)} / ${p.rssMaxMiB.toFixed(1)} / ${p.rssEndMiB.toFixed(1)} | ${p.killsOffered} / ${p.killsCountedAtEnd} / ${p.killsCounted} | ${p.caughtUpSeconds === undefined ? "not within 60 s" : `${p.caughtUpSeconds.toFixed(0)} s`} |\n`,
    );
  }
  for (const agent of agents) {
    const quiet = phases.find((p) => p.name === "quiet" && p.build === agent.build);
    const flood = phases.find((p) => p.name === "flood" && p.build === agent.build);
    if (quiet && flood)
      process.stdout.write(
        `\nflood − quiet (${agent.build}): agent ${(flood.agentMillicores - quiet.agentMillicores).toFixed(2)} millicores, RSS max ${(flood.rssMaxMiB - quiet.rssMaxMiB).toFixed(1)} MiB`,
      );
  }
  process.stdout.write("\n");
}
