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
 *   npm run bench -- kernel-flood [--quiet-seconds=120] [--seconds=300] [--per-minute=4500] [--samples-per-second=N] [--with=kubelet-logs]
 */
import type { ChildProcess } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { CHECK_NAMES, checksOff } from "../src/checks/index.js";
import { fixtureRoot } from "../test/support/fixture-root.js";
import { startJournalWriter } from "./kubelet-journal.js";
import { CLOCK_TICKS, cpuTicks, getText, option, rssKiB, startBundledAgent, stop } from "./support.js";

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

interface Phase {
  name: string;
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

async function phase(
  name: string,
  agent: { child: ChildProcess; address: string },
  seconds: number,
  perMinute: number,
  write: (lines: string[]) => Promise<void>,
): Promise<Phase> {
  const pid = agent.child.pid as number;
  const children = await journalctlPids(pid);
  const ticks0 = await cpuTicks(pid);
  const childTicks0 = await Promise.all(children.map(cpuTicks));
  const kills0 = await memcgKills(agent.address);
  const rssStart = await rssKiB(pid);
  let rssMax = rssStart;
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
    if (tick % 10 === 0) rssMax = Math.max(rssMax, await rssKiB(pid));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const agentTicks = (await cpuTicks(pid)) - ticks0;
  const childTicks = (await Promise.all(children.map(cpuTicks))).reduce((a, b) => a + b, 0) - childTicks0.reduce((a, b) => a + b, 0);
  // The count is published by each run (interval 15 s): wait up to 60 s for the runs to count what is left.
  const counted = async () => (await memcgKills(agent.address)) - kills0;
  const atEnd = await counted();
  let caughtUpSeconds: number | undefined = atEnd >= offered ? 0 : undefined;
  const end = performance.now();
  while (caughtUpSeconds === undefined && performance.now() - end < 60_000) {
    await new Promise((r) => setTimeout(r, 1000));
    if ((await counted()) >= offered) caughtUpSeconds = (performance.now() - end) / 1000;
  }
  const rssEnd = await rssKiB(pid);
  return {
    name,
    seconds: elapsed,
    agentMillicores: (agentTicks / CLOCK_TICKS / elapsed) * 1000,
    journalctlMillicores: (childTicks / CLOCK_TICKS / elapsed) * 1000,
    rssStartMiB: rssStart / 1024,
    rssMaxMiB: Math.max(rssMax, rssEnd) / 1024,
    rssEndMiB: rssEnd / 1024,
    killsOffered: offered,
    killsCountedAtEnd: atEnd,
    killsCounted: await counted(),
    ...(caughtUpSeconds !== undefined ? { caughtUpSeconds } : {}),
  };
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
  const agent = await startBundledAgent(AGENT_NODE_FLAGS, [
    "--host-root",
    fixture.root,
    "--listen",
    "127.0.0.1:0",
    "--node-name",
    "bench-node",
    "--config",
    config,
  ]);
  agent.child.stdout?.resume();
  agent.child.stderr?.resume();
  const phases: Phase[] = [];
  try {
    // Settle first: the first runs allocate what the agent keeps.
    await new Promise((r) => setTimeout(r, 30_000));
    process.stdout.write(`quiet: ${quietSeconds} s …\n`);
    phases.push(await phase("quiet", agent, quietSeconds, 0, journal.write));
    process.stdout.write(`flood: ${perMinute} OOM lines a minute (${perMinute / 2} memcg kills, ${perMinute / 60} kernel lines/s) for ${seconds} s …\n`);
    phases.push(await phase("flood", agent, seconds, perMinute, journal.write));
  } finally {
    await stop(agent.child);
    await journal.stop();
    await fixture.cleanup();
  }
  process.stdout.write(
    `\nNode ${process.version}, ${AGENT_NODE_FLAGS.join(" ")}\n\n| phase | seconds | agent CPU millicores | journalctl CPU millicores | agent RSS MiB start / max / end | memcg OOM kills offered / counted at the end / within 60 s | all counted after |\n|---|---|---|---|---|---|---|\n`,
  );
  for (const p of phases) {
    process.stdout.write(
      `| ${p.name} | ${p.seconds.toFixed(0)} | ${p.agentMillicores.toFixed(2)} | ${p.journalctlMillicores.toFixed(2)} | ${p.rssStartMiB.toFixed(1)} / ${p.rssMaxMiB.toFixed(1)} / ${p.rssEndMiB.toFixed(1)} | ${p.killsOffered} / ${p.killsCountedAtEnd} / ${p.killsCounted} | ${p.caughtUpSeconds === undefined ? "not within 60 s" : `${p.caughtUpSeconds.toFixed(0)} s`} |\n`,
    );
  }
  const [quiet, flood] = phases;
  if (quiet && flood)
    process.stdout.write(
      `\nflood − quiet: agent ${(flood.agentMillicores - quiet.agentMillicores).toFixed(2)} millicores, RSS max ${(flood.rssMaxMiB - quiet.rssMaxMiB).toFixed(1)} MiB\n`,
    );
}
