/**
 * kubelet's log in a flood. Three figures:
 *
 * 1. Parse+match throughput in-process (lines/s) for klog lines from a file
 *    and for `journalctl -o json` lines, on a realistic mix (noise, ordinary
 *    lines, a few signature matches).
 * 2. The bundled agent (kubelet-logs only) following /var/log/kubelet.log
 *    while this process appends 10,000 lines/s: lines/s the agent counted
 *    (node_doctor_log_lines_total) and its RSS over the flood.
 * 3. The same with the journal: 10,000 entries/s streamed into a real journal
 *    file by systemd-journal-remote, followed by the agent's journalctl child
 *    (whose RSS is reported too: it counts against the pod's limit).
 *
 *   npm run bench -- log-flood [--seconds=60] [--rate=10000] [--sources=file,journal]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SignatureMatcher } from "../src/node/logs/matcher.js";
import { NOISE, SIGNATURES } from "../src/checks/kubelet-logs/signatures.js";
import { parseJournalJson, parseLogLine, recordFromJournal } from "../src/node/log-line.js";
import { fixtureRoot } from "../test/support/fixture-root.js";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { JOURNAL_REMOTE, kubeletLine, logLinesCounted, startJournalWriter } from "./kubelet-journal.js";

const BUNDLE = new URL("../dist/node-doctor.mjs", import.meta.url).pathname;

function option(args: string[], name: string, fallback: string): string {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

function journalJson(i: number, ms: number): string {
  return JSON.stringify({
    __CURSOR: `s=1;i=${i}`,
    __REALTIME_TIMESTAMP: String(ms * 1000),
    _SYSTEMD_UNIT: "kubelet.service",
    _PID: "2211",
    MESSAGE: kubeletLine(i, ms),
  });
}

function inProcessThroughput(): { fileLinesPerSecond: number; journalLinesPerSecond: number } {
  const n = 200_000;
  const now = Date.now();
  const klog = Array.from({ length: n }, (_, i) => kubeletLine(i, now));
  const json = Array.from({ length: n }, (_, i) => journalJson(i, now));
  const matcher = new SignatureMatcher(SIGNATURES, NOISE, ["journal", "file"]);
  let t = performance.now();
  for (const line of klog) matcher.feed(parseLogLine(line, now), "kubelet", "file", now);
  const fileLinesPerSecond = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const line of json) {
    const entry = parseJournalJson(line);
    if (entry) matcher.feed(recordFromJournal(entry, now), "kubelet", "journal", now);
  }
  const journalLinesPerSecond = n / ((performance.now() - t) / 1000);
  return { fileLinesPerSecond, journalLinesPerSecond };
}

async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** journalctl children of the agent. */
async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && stat.includes("(journalctl)")) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function linesCounted(address: string): Promise<number> {
  return logLinesCounted(await (await fetch(`${address}/metrics`)).text());
}

async function startAgent(root: string, configPath: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(
    process.execPath,
    [...AGENT_NODE_FLAGS, BUNDLE, "run", "--host-root", root, "--listen", "127.0.0.1:0", "--node-name", "bench-node", "--config", configPath],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = /serving on (http:\/\/\S+)/.exec(out);
      if (match && out.includes("Summary:")) resolve(match[1] as string);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, address };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 6000).unref();
  });
}

interface FloodResult {
  name: string;
  offered: number;
  counted: number;
  seconds: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  /** RSS every 10 s of the flood: growth or a plateau. */
  timeline: number[];
  heapUsedMiB: number;
  journalctlMaxMiB?: number;
}

async function heapUsedMiB(address: string): Promise<number> {
  const text = await (await fetch(`${address}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? NaN) / 1024 / 1024;
}

/** Writes `rate` lines/s in 10 batches per second for `seconds`, sampling RSS each second. */
async function flood(
  name: string,
  agent: { child: ChildProcess; address: string },
  write: (batch: string[]) => Promise<void>,
  makeLine: (i: number, ms: number) => string,
  rate: number,
  seconds: number,
): Promise<FloodResult> {
  const pid = agent.child.pid as number;
  const counted0 = await linesCounted(agent.address);
  const rssStart = await rssKiB(pid);
  let rssMax = rssStart;
  let journalctlMax = 0;
  const timeline: number[] = [];
  let i = 0;
  const t0 = performance.now();
  const batch = rate / 10;
  for (let tick = 0; tick < seconds * 10; tick++) {
    const due = t0 + tick * 100;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const now = Date.now();
    const lines: string[] = [];
    for (let k = 0; k < batch; k++) lines.push(makeLine(i++, now));
    await write(lines);
    if (tick % 10 === 0) {
      const rss = await rssKiB(pid);
      rssMax = Math.max(rssMax, rss);
      if (tick % 100 === 0) timeline.push(rss / 1024);
      for (const child of await childPids(pid)) journalctlMax = Math.max(journalctlMax, await rssKiB(child));
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  // Let the agent's next runs catch up (interval 5 s in the bench config): did it keep up?
  await new Promise((r) => setTimeout(r, 12_000));
  const counted = (await linesCounted(agent.address)) - counted0;
  const rssEnd = await rssKiB(pid);
  return {
    name,
    offered: i,
    counted,
    seconds: elapsed,
    rssStartMiB: rssStart / 1024,
    rssMaxMiB: Math.max(rssMax, rssEnd) / 1024,
    rssEndMiB: rssEnd / 1024,
    timeline,
    heapUsedMiB: await heapUsedMiB(agent.address),
    ...(journalctlMax > 0 ? { journalctlMaxMiB: journalctlMax / 1024 } : {}),
  };
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(option(args, "seconds", "60"));
  const rate = Number(option(args, "rate", "10000"));
  const sources = option(args, "sources", "file,journal").split(",");

  const speed = inProcessThroughput();
  process.stdout.write(
    `parse+match in-process (Node ${process.version}, default V8 flags): klog lines ${Math.round(speed.fileLinesPerSecond)} lines/s; journalctl JSON lines ${Math.round(speed.journalLinesPerSecond)} lines/s\n`,
  );

  const results: FloodResult[] = [];
  const fixture = await fixtureRoot(undefined, { tmpfsRoot: false });
  try {
    const root = fixture.root;
    await mkdir(join(root, "var/log"), { recursive: true });
    const logFile = join(root, "var/log/kubelet.log");
    await writeFile(logFile, "");
    const config = join(root, "node-doctor.yaml");
    await writeFile(config, `checks:\n  disk:\n    enabled: false\n  kubelet-logs:\n    intervalSeconds: 5\n`);

    // File flood.
    let agent = sources.includes("file") ? await startAgent(root, config) : undefined;
    if (agent)
      try {
        process.stdout.write(`file flood: ${rate} lines/s for ${seconds} s into /var/log/kubelet.log …\n`);
        results.push(await flood("file /var/log/kubelet.log", agent, (lines) => appendFile(logFile, lines.join("\n") + "\n"), kubeletLine, rate, seconds));
      } finally {
        await stop(agent.child);
      }

    // Journal flood.
    if (!sources.includes("journal")) {
      // not asked for
    } else if (!existsSync(JOURNAL_REMOTE)) {
      process.stdout.write(`journal flood skipped: ${JOURNAL_REMOTE} is missing (Debian package systemd-journal-remote)\n`);
    } else {
      await writeFile(logFile, "");
      const writer = await startJournalWriter(root);
      agent = await startAgent(root, config);
      try {
        process.stdout.write(`journal flood: ${rate} entries/s for ${seconds} s through systemd-journal-remote …\n`);
        results.push(await flood("journal (journalctl -f child)", agent, (lines) => writer.write(lines), kubeletLine, rate, seconds));
      } finally {
        await stop(agent.child);
        await writer.stop();
      }
    }
  } finally {
    await fixture.cleanup();
  }

  process.stdout.write(
    "\n| source | lines offered | lines counted by the agent | offered lines/s (kept up when counted = offered) | agent RSS MiB start / max / end | agent RSS every 10 s | agent V8 heap used MiB (end) | journalctl RSS MiB max |\n|---|---|---|---|---|---|---|---|\n",
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.name} | ${r.offered} | ${r.counted} | ${Math.round(r.counted / r.seconds)} | ${r.rssStartMiB.toFixed(1)} / ${r.rssMaxMiB.toFixed(1)} / ${r.rssEndMiB.toFixed(1)} | ${r.timeline.map((m) => m.toFixed(1)).join(", ")} | ${r.heapUsedMiB.toFixed(1)} | ${r.journalctlMaxMiB?.toFixed(1) ?? "-"} |\n`,
    );
  }
}
