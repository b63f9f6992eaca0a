/**
 * Soak: the bundled agent with every check enabled at its default interval,
 * on a fixture node (a tmpfs root, a kubelet in /proc with its kubeconfig and
 * real certificates, a kubelet filesystem at 12% free, a real containerd
 * serving CRI, kubelet's log file growing) and talking to the
 * fake API server (the Node and its Lease seeded, the Lease renewed every
 * 10 s as kubelet does), for a configurable time. Measured from outside:
 * RSS over time and its slope, V8 heap and event-loop lag p99 from the
 * agent's own /metrics (scraped as Prometheus would, every sample), CPU
 * millicores averaged over the run, API requests and writes per hour from
 * the fake's request log, and /metrics latency at 50 requests/s at the end.
 * prometheus-node-exporter runs beside it under the same measurement.
 *
 * With --api-down the API server is down (every connection reset) for the
 * whole run, from before the agent starts: the case where a peer's agent
 * leaked heap to 3 GB.
 *
 * With --journal-flood=N the node has a journal (written by
 * systemd-journal-remote on a tmpfs of its own) and kubelet floods it with
 * N lines/s of the log-flood bench's mix for the first --flood-seconds
 * (default 60) of the sampling window: the agent's memory with every check
 * on while it follows a flooding kubelet, and after.
 *
 * --sample-seconds N sets the scrape/sample period (default: 120 samples, 1–10 s);
 * --warmup-seconds N the wait before sampling (default a tenth of the run, 5–30 s).
 * --bundle=PATH runs another build's bundle (the previous build, side by side).
 * With --only=a,b only those checks run (to tell which one grows), with
 * --without=a,b all but those (one check's cost, paired); --custom-checks adds one
 * custom check of each probe kind (their cost; the fixture then has /proc/{self,1}/ns/net agreeing, so the
 * network check judges too: measure with --without network, side by side); --flags="..."
 * replaces the agent's V8 flags (default scripts/node-flags.mjs).
 *
 *   npm run bench -- soak [--minutes N] [--api-down] [--journal-flood=10000 [--flood-seconds=60]] [--only a,b]      (default 10; 0.5 for a quick look)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { CHECK_NAMES, checksOff } from "../src/checks/index.js";
import { CertificateMint } from "../test/support/certs.js";
import { startContainerd } from "../test/support/containerd.js";
import { fakeNtpServer, ntpReply } from "../test/support/fake-ntp.js";
import { startFakeSystemd } from "../test/support/fake-systemd.js";
import { startHealthz, SYSTEMD_ACTIVE, writeKubeletProcess } from "../test/support/kubelet-harness.js";
import { writeKubeletClientPki } from "../test/support/kubelet-pki.js";
import { FakeApiServer } from "../test/support/fake-apiserver.js";
import { FIXTURES, fillBytes, fixtureRoot } from "../test/support/fixture-root.js";
import { requireTool } from "../test/support/tools.js";
import { kubeletLine, logLinesCounted, startJournalWriter, type JournalWriter } from "./kubelet-journal.js";
import {
  BUNDLE,
  CLOCK_TICKS,
  cpuTicks,
  floorLatency,
  freePort,
  getText,
  load,
  option,
  percentile,
  rssKiB,
  slopePerMin,
  startBundledAgent,
  stop,
} from "./support.js";

const NODE_NAME = "soak-node";
const DAY = 86_400_000;
const TARGETS = { rssMiB: 72, millicores: 2, lagP99Ms: 20 };
/**
 * The control process samples event-loop delay as the agent does, with
 * monitorEventLoopDelay({ resolution: 1000 }), whose histogram records the
 * whole interval between samples (an idle loop reads 1000 ms): the lag is what
 * exceeds it. The agent's gauge already subtracts it.
 */
const LAG_RESOLUTION_MS = 1000;

/** Writes kubelet's side of a kubeadm node into the fixture: process, kubeconfig, CA, client and serving certificates. */
async function kubeletNode(root: string, mint: CertificateMint): Promise<void> {
  const now = Date.now();
  const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * DAY), notAfter: new Date(now + 3000 * DAY) });
  const client = mint.leaf(ca, {
    subject: `/O=system:nodes/CN=system:node:${NODE_NAME}`,
    notBefore: new Date(now - 20 * DAY),
    notAfter: new Date(now + 345 * DAY),
  });
  const serving = mint.selfSigned({ subject: `/CN=${NODE_NAME}@1732000000`, notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 335 * DAY) });
  const files: Record<string, string> = {
    "var/lib/kubelet/pki/kubelet.crt": serving.certPem,
    "var/lib/kubelet/pki/kubelet.key": serving.keyPem,
    "var/lib/kubelet/config.yaml": await readFile(join(FIXTURES, "disk-healthy/var/lib/kubelet/config.yaml"), "utf8"),
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content, { mode: 0o600 });
  }
  await writeKubeletProcess(root, 4242, 1200, [
    "/usr/bin/kubelet",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
    "--node-ip=10.0.0.10",
  ]);
  const clientFile = "kubelet-client-2026-11-05-10-00-00.pem";
  await writeKubeletClientPki(root, { caPem: ca.certPem, clients: { [clientFile]: client.combinedPem }, current: clientFile });
}

/** One sample value of a series from Prometheus text (the first line with one of the names: builds before prom-client named some differently). */
function metric(text: string, ...names: string[]): number {
  for (const name of names) {
    const value = firstSample(text, name);
    if (!Number.isNaN(value)) return value;
  }
  return NaN;
}

function firstSample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : NaN;
}

/**
 * A bare Node process measuring its own event-loop delay the agent's way, as a
 * control: when it lags too, the machine (shared cores) held both back.
 * Answers each line on stdin with its lag p99 (ms beyond the resolution) since the last.
 */
const CANARY = `
import { monitorEventLoopDelay } from "node:perf_hooks";
const h = monitorEventLoopDelay({ resolution: ${LAG_RESOLUTION_MS} });
h.enable();
process.stdin.on("data", () => {
  process.stdout.write(String(h.count > 0 ? Math.max(0, h.percentile(99) / 1e6 - ${LAG_RESOLUTION_MS}) : 0) + "\\n");
  h.reset();
});
`;

function startCanary(): { child: ChildProcess; ask(): Promise<number> } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CANARY], { stdio: ["pipe", "pipe", "ignore"] });
  let waiting: ((value: number) => void) | undefined;
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (line: string) => waiting?.(Number(line.trim().split("\n").pop())));
  return {
    child,
    ask: () =>
      new Promise((resolve) => {
        waiting = resolve;
        child.stdin?.write("\n");
      }),
  };
}

interface Sample {
  atS: number;
  agentRssKiB: number;
  heapKiB: number;
  lagP99Ms: number;
  canaryLagP99Ms: number;
  exporterRssKiB: number;
}

const WRITE_VERBS = new Set(["create", "patch", "update", "delete"]);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * --custom-checks: one custom check of each probe kind, at the default interval (60 s), on what the soak node has:
 * kubelet's directory, a sysctl, kubelet's unit on the systemd stand-in, kubelet's healthz over TCP and HTTP,
 * kubelet's log, and an npd-plugin (a process every run).
 */
function soakCustomChecks(healthzUrl: string): unknown[] {
  const port = Number(new URL(healthzUrl).port);
  return [
    { name: "kubelet-dir", condition: "SoakKubeletDirMissing", probe: { kind: "file", path: "/var/lib/kubelet" } },
    { name: "overcommit", condition: "SoakOvercommitChanged", probe: { kind: "sysctl", key: "vm.overcommit_memory", op: "in", value: [0, 1] } },
    { name: "kubelet-unit", condition: "SoakKubeletUnitDown", probe: { kind: "unit", unit: "kubelet.service" } },
    { name: "healthz-port", condition: "SoakHealthzPortClosed", probe: { kind: "tcp", host: "127.0.0.1", port } },
    { name: "healthz", condition: "SoakHealthzDown", probe: { kind: "http", url: healthzUrl, bodyMatches: "^ok$" } },
    {
      name: "kubelet-log",
      condition: "SoakKubeletLogProblem",
      probe: { kind: "log", files: ["/var/log/kubelet.log"], signatures: [{ pattern: "PLEG is not healthy", reason: "PlegUnhealthy" }] },
    },
    { name: "plugin", condition: "SoakPluginProblem", probe: { kind: "npd-plugin", path: join(FIXTURES, "npd-plugins/protocol/exit-0.sh") } },
  ];
}

export async function run(args: string[]): Promise<void> {
  const minutes = Number(option(args, "minutes", "10"));
  const apiDown = args.includes("--api-down");
  const only = option(args, "only", "");
  const without = option(args, "without", "").split(",").filter(Boolean);
  const nodeFlags = option(args, "flags", AGENT_NODE_FLAGS.join(" ")).split(" ").filter(Boolean);
  const floodRate = Number(option(args, "journal-flood", "0"));
  if (!(floodRate >= 0)) throw new Error(`soak: --journal-flood must be lines per second, got ${option(args, "journal-flood", "")}`);
  const floodMs = Number(option(args, "flood-seconds", "60")) * 1000;
  if (!(minutes > 0)) throw new Error(`soak: --minutes must be a positive number, got ${option(args, "minutes", "")}`);
  const exporterPath = requireTool("prometheus-node-exporter");
  const durationMs = minutes * 60_000;
  // --sample-seconds 30: scrape as a typical Prometheus does, for the CPU figure at realistic load.
  const sampleSeconds = Number(option(args, "sample-seconds", "0"));
  const sampleMs = sampleSeconds > 0 ? sampleSeconds * 1000 : Math.min(10_000, Math.max(1_000, durationMs / 120));
  const warmupSeconds = Number(option(args, "warmup-seconds", "0"));
  const warmupMs = warmupSeconds > 0 ? warmupSeconds * 1000 : Math.min(30_000, Math.max(5_000, durationMs / 10));
  const bundle = option(args, "bundle", BUNDLE);
  const customChecks = args.includes("--custom-checks");

  const fixture = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
  const kubeletDir = await fixture.mountTmpfs("/var/lib/kubelet", { size: "8m", inodes: 1000 });
  const mint = new CertificateMint();
  await kubeletNode(fixture.root, mint);
  mint.cleanup();
  await fixture.writeMountinfo();
  await fillBytes(kubeletDir, 1024 * 1024);

  // A real containerd with its CRI plugin on the node's socket, CNI configured (the runtime check's healthy node).
  await cp(join(FIXTURES, "runtime-cni-valid"), fixture.root, { recursive: true });
  const containerd = await startContainerd(fixture.root);
  // The kernel's counters of a healthy node for the exhaustion check, and a full node's pods: kubelet's maxPods (110) pod cgroups with their pids files.
  for (const dir of ["proc", "sys"]) await cp(join(FIXTURES, "exhaustion-healthy", dir), join(fixture.root, dir), { recursive: true, verbatimSymlinks: true });
  const burstable = join(fixture.root, "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice");
  for (let i = 0; i < 110; i++) {
    const pod = join(burstable, `kubepods-burstable-pod${i.toString(16).padStart(8, "0")}_5b7a_4c9e_9d1f_2a6b3c4d5e6f.slice`);
    await mkdir(pod, { recursive: true });
    await writeFile(join(pod, "pids.current"), `${10 + i}\n`);
    await writeFile(join(pod, "pids.max"), "4096\n");
    await writeFile(join(pod, "pids.events"), "max 0\n");
  }
  // kubelet's log file, appended to as kubelet would (the kubelet-logs check polls it).
  const kubeletLog = join(fixture.root, "var/log/kubelet.log");
  await mkdir(dirname(kubeletLog), { recursive: true });
  await writeFile(kubeletLog, "");

  // A minute at 10,000 lines/s is about 300 MiB of journal: not on the 64 MiB root.
  if (floodRate > 0) await fixture.mountTmpfs("/var/log/journal", { size: "2g" });
  const journal: JournalWriter | undefined = floodRate > 0 ? await startJournalWriter(fixture.root) : undefined;

  const api = await FakeApiServer.start();
  api.seedNode(NODE_NAME);
  api.seedLease(NODE_NAME);
  const kubeconfigDir = await mkdtemp(join(tmpdir(), "nd-soak-"));
  const kubeconfig = await api.writeKubeconfig(kubeconfigDir);
  if (apiDown) api.setDown(true);

  // kubelet's healthz answering ok, systemd on the node's bus reporting kubelet.service running, an NTP server agreeing.
  const healthz = await startHealthz();
  const systemd = await startFakeSystemd(join(fixture.root, "run/dbus/system_bus_socket"), SYSTEMD_ACTIVE);
  const ntp = await fakeNtpServer((request) => ntpReply(request, 0));
  const configFile = join(kubeconfigDir, "config.yaml");
  const checks: Record<string, unknown> = { kubelet: { healthzUrl: healthz.url }, clock: { ntpServers: [`127.0.0.1:${ntp.port}`] } };
  if (customChecks) {
    await mkdir(join(fixture.root, "proc/sys/vm"), { recursive: true });
    await writeFile(join(fixture.root, "proc/sys/vm/overcommit_memory"), "0\n");
    // tcp and http probe only from the node's network namespace: the agent's and pid 1's links agree here.
    for (const pid of ["self", "1"]) {
      await mkdir(join(fixture.root, `proc/${pid}/ns`), { recursive: true });
      await symlink("net:[4026531840]", join(fixture.root, `proc/${pid}/ns/net`)).catch(() => undefined);
    }
    checks["custom"] = soakCustomChecks(healthz.url);
  }
  // `run` has no --only: the others are turned off in the configuration.
  if (only || without.length) {
    const keep = only ? only.split(",") : CHECK_NAMES.filter((name) => !without.includes(name));
    for (const [name, off] of Object.entries(checksOff(keep.filter((name) => !without.includes(name)))))
      checks[name] = Array.isArray(off) ? off : { ...(checks[name] as object | undefined), ...off };
  }
  await writeFile(configFile, JSON.stringify({ checks }));

  const children: ChildProcess[] = [];
  let renewing = true;
  const renewal = (async () => {
    for (let i = 0; renewing; i++) {
      if (i % 5 === 0) api.seedLease(NODE_NAME); // kubelet renews its Lease every 10 s
      const t = new Date();
      const stamp = `${String(t.getUTCMonth() + 1).padStart(2, "0")}${String(t.getUTCDate()).padStart(2, "0")} ${t.toISOString().slice(11, 23)}000`;
      await appendFile(kubeletLog, `I${stamp}    4242 kubelet_node_status.go:${500 + (i % 50)}] "Updating node status" node="${NODE_NAME}"\n`);
      await sleep(2_000);
    }
  })();
  try {
    const agent = await startBundledAgent(
      nodeFlags,
      ["--host-root", fixture.root, "--listen", "127.0.0.1:0", "--node-name", NODE_NAME, "--kubeconfig", kubeconfig, "--config", configFile],
      bundle,
    );
    children.push(agent.child);
    const agentPid = agent.child.pid as number;
    const metricsUrl = `${agent.address}/metrics`;
    const exporterPort = await freePort();
    const exporter = spawn(exporterPath, [`--web.listen-address=127.0.0.1:${exporterPort}`], { stdio: "ignore" });
    children.push(exporter);
    const exporterPid = exporter.pid as number;
    const exporterUrl = `http://127.0.0.1:${exporterPort}/metrics`;
    const canary = startCanary();
    children.push(canary.child);

    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(
      `node ${process.version}, ${bundle === BUNDLE ? "this build" : bundle}, agent flags ${nodeFlags.join(" ")}; ${minutes} min soak${apiDown ? " with the API server down throughout" : ""}${journal ? `, kubelet flooding the journal with ${floodRate} lines/s for the first ${floodMs / 1000} s` : ""}${only ? ` (only ${only})` : ""}${without.length ? ` (without ${without.join(", ")})` : ""}${customChecks ? ", with a custom check of each probe kind" : ""}, sample every ${sampleMs / 1000} s after ${warmupMs / 1000} s warm-up`,
    );
    out(
      `load average at start: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} (the machine's cores are shared)`,
    );
    out(`first complete diagnosis: ${agent.firstDiagnosisMs.toFixed(0)} ms after spawn`);
    await sleep(warmupMs);
    await getText(metricsUrl); // resets the lag window: the first sample covers one sample interval
    await canary.ask();

    let flooding = journal !== undefined;
    let offered = 0;
    const journalLines0 = journal ? logLinesCounted(await getText(metricsUrl), "journal") : 0;
    const flood = (async () => {
      // 10 batches a second, each due on its own tick: a slow write does not lower the rate.
      const t0 = performance.now();
      for (let tick = 0; flooding && journal && tick * 100 < floodMs; tick++) {
        const wait = t0 + tick * 100 - performance.now();
        if (wait > 0) await sleep(wait);
        const now = Date.now();
        await journal.write(Array.from({ length: Math.round(floodRate / 10) }, () => kubeletLine(offered++, now)));
      }
    })();

    const requestsAtStart = api.requests.length;
    const cpu0 = { agent: await cpuTicks(agentPid), exporter: await cpuTicks(exporterPid) };
    const t0 = performance.now();
    const samples: Sample[] = [];
    while (performance.now() - t0 < durationMs) {
      await sleep(Math.min(sampleMs, durationMs - (performance.now() - t0)));
      const [text, canaryLag] = await Promise.all([getText(metricsUrl), canary.ask()]);
      await getText(exporterUrl); // node-exporter scraped as often, for a fair CPU comparison
      samples.push({
        atS: (performance.now() - t0) / 1000,
        agentRssKiB: await rssKiB(agentPid),
        heapKiB: metric(text, "nodejs_heap_size_used_bytes", "nodejs_heap_used_bytes") / 1024,
        lagP99Ms: metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000,
        canaryLagP99Ms: canaryLag,
        exporterRssKiB: await rssKiB(exporterPid),
      });
    }
    const elapsedS = (performance.now() - t0) / 1000;
    flooding = false;
    await flood;
    const loadAtEnd = loadavg();
    const millicores = {
      agent: (((await cpuTicks(agentPid)) - cpu0.agent) / CLOCK_TICKS / elapsedS) * 1000,
      exporter: (((await cpuTicks(exporterPid)) - cpu0.exporter) / CLOCK_TICKS / elapsedS) * 1000,
    };
    const window = api.requests.slice(requestsAtStart);
    const startup = api.requests.slice(0, requestsAtStart);
    const findings = JSON.parse(await getText(`${agent.address}/findings`)) as {
      checks?: Array<{ check: string; outcome: string }>;
      findings?: Array<{ check: string; severity: string; reason: string }>;
    };

    const agentLatency = await load(metricsUrl, 50, 20);
    const exporterLatency = await load(exporterUrl, 50, 20);
    const floor = await floorLatency();

    // Over time: about ten rows.
    out(
      "\n| t (s) | agent RSS MiB | agent heap MiB | agent lag p99 ms (window) | control process lag p99 ms | node-exporter RSS MiB |\n|---|---|---|---|---|---|",
    );
    const step = Math.max(1, Math.floor(samples.length / 10));
    samples.forEach((s, i) => {
      if (i % step === 0 || i === samples.length - 1) {
        out(
          `| ${s.atS.toFixed(0)} | ${(s.agentRssKiB / 1024).toFixed(1)} | ${(s.heapKiB / 1024).toFixed(1)} | ${s.lagP99Ms.toFixed(1)} | ${s.canaryLagP99Ms.toFixed(1)} | ${(s.exporterRssKiB / 1024).toFixed(1)} |`,
        );
      }
    });

    const rss = samples.map((s) => s.agentRssKiB);
    const lags = samples
      .map((s) => s.lagP99Ms)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const exporterRss = samples.map((s) => s.exporterRssKiB);
    // Windows where the control process kept up (its p99 ≤ 5 ms): the agent's own lag, not the machine's.
    const quiet = samples.filter((s) => s.canaryLagP99Ms <= 5);
    const quietLags = quiet.map((s) => s.lagP99Ms).sort((a, b) => a - b);
    const canaryLags = samples.map((s) => s.canaryLagP99Ms).sort((a, b) => a - b);
    const rssSlope = slopePerMin(samples.map((s) => [s.atS, s.agentRssKiB]));
    const heapSlope = slopePerMin(samples.map((s) => [s.atS, s.heapKiB]));
    const exporterSlope = slopePerMin(samples.map((s) => [s.atS, s.exporterRssKiB]));
    const perHour = (n: number) => (n / elapsedS) * 3600;
    const writes = window.filter((r) => WRITE_VERBS.has(r.verb));
    const byRoute = new Map<string, number>();
    for (const r of window) byRoute.set(`${r.verb} ${r.resource}`, (byRoute.get(`${r.verb} ${r.resource}`) ?? 0) + 1);

    const rssMaxMiB = Math.max(...rss) / 1024;
    const lagMax = lags[lags.length - 1] ?? NaN;
    const quietLagMax = quietLags[quietLags.length - 1] ?? NaN;
    const verdict = (ok: boolean) => (ok ? "met" : "NOT MET");
    out(`\n| figure | node-doctor | prometheus-node-exporter | ratio nd/ne | target |\n|---|---|---|---|---|`);
    out(
      `| RSS MiB end | ${(rss[rss.length - 1]! / 1024).toFixed(1)} | ${(exporterRss[exporterRss.length - 1]! / 1024).toFixed(1)} | ${(rss[rss.length - 1]! / exporterRss[exporterRss.length - 1]!).toFixed(2)} | |`,
    );
    out(
      `| RSS MiB max | ${rssMaxMiB.toFixed(1)} | ${(Math.max(...exporterRss) / 1024).toFixed(1)} | | ≤ ${TARGETS.rssMiB}: ${verdict(rssMaxMiB <= TARGETS.rssMiB)} |`,
    );
    out(`| RSS slope KiB/min | ${rssSlope.toFixed(1)} | ${exporterSlope.toFixed(1)} | | ~0 |`);
    out(
      `| V8 heap used MiB (min–max), slope KiB/min | ${(Math.min(...samples.map((s) => s.heapKiB)) / 1024).toFixed(1)}–${(Math.max(...samples.map((s) => s.heapKiB)) / 1024).toFixed(1)}, ${heapSlope.toFixed(1)} | | | ~0 |`,
    );
    out(
      `| CPU millicores (average, scraped every ${sampleMs / 1000} s) | ${millicores.agent.toFixed(2)} | ${millicores.exporter.toFixed(2)} | ${(millicores.agent / millicores.exporter).toFixed(2)} | ≤ ${TARGETS.millicores}: ${verdict(millicores.agent <= TARGETS.millicores)} |`,
    );
    out(
      `| event-loop lag p99 ms (median / max of ${lags.length} windows) | ${percentile(lags, 50).toFixed(1)} / ${lagMax.toFixed(1)} | | | ≤ ${TARGETS.lagP99Ms}: ${verdict(lagMax <= TARGETS.lagP99Ms)} |`,
    );
    out(
      `| control process (bare node) lag p99 ms, median / max | ${percentile(canaryLags, 50).toFixed(1)} / ${(canaryLags[canaryLags.length - 1] ?? NaN).toFixed(1)} | | | |`,
    );
    out(
      `| agent lag p99 ms in the ${quiet.length} windows the control kept up (≤ 5 ms), median / max | ${percentile(quietLags, 50).toFixed(1)} / ${quietLagMax.toFixed(1)} | | | ≤ ${TARGETS.lagP99Ms}: ${verdict(quietLagMax <= TARGETS.lagP99Ms)} |`,
    );
    out(
      `| /metrics p50 / p99 ms at 50 req/s | ${percentile(agentLatency, 50).toFixed(2)} / ${percentile(agentLatency, 99).toFixed(2)} | ${percentile(exporterLatency, 50).toFixed(2)} / ${percentile(exporterLatency, 99).toFixed(2)} | ${(percentile(agentLatency, 99) / percentile(exporterLatency, 99)).toFixed(2)} | |`,
    );
    out(`| floor: bare node:http p50 / p99 ms | ${floor.p50.toFixed(2)} / ${floor.p99.toFixed(2)} | | | |`);
    out(
      `\nAPI server (fake), over the ${elapsedS.toFixed(0)} s window: ${window.length} requests (${perHour(window.length).toFixed(1)}/hour), ${writes.length} writes (${perHour(writes.length).toFixed(1)}/hour); at start (spawn to end of warm-up): ${startup.length} requests, ${startup.filter((r) => WRITE_VERBS.has(r.verb)).length} writes`,
    );
    out(`requests by route in the window: ${[...byRoute].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`);
    for (const e of api.storedEvents(NODE_NAME))
      out(`event: ${e.type} ${e.reason} ×${e.count ?? 1} at ${e.lastTimestamp ?? ""}: ${(e.message ?? "").slice(0, 160)}`);
    if (journal) {
      await sleep(5_000); // the agent reads what the last batches left in the pipe
      const counted = logLinesCounted(await getText(metricsUrl), "journal") - journalLines0;
      out(
        `journal flood: ${offered} lines offered (${(offered / Math.min(elapsedS, floodMs / 1000)).toFixed(0)}/s), ${counted} counted by the agent (node_doctor_log_lines_total{source="journal"})`,
      );
    }
    out(`load average at end of sampling: ${loadAtEnd.map((l) => l.toFixed(2)).join(" ")}`);
    out(`checks: ${(findings.checks ?? []).map((c) => `${c.check} ${c.outcome}`).join(", ")}`);
    out(`findings: ${(findings.findings ?? []).map((f) => `${f.check} ${f.severity} ${f.reason}`).join(", ") || "none"}`);
    out(
      `containerd (pid ${containerd.pid}) served CRI on the node's socket; kubelet's log had ${(await readFile(kubeletLog, "utf8")).split("\n").length - 1} lines appended, one every 2 s`,
    );
  } finally {
    renewing = false;
    for (const child of children) await stop(child);
    await renewal;
    await api.close();
    await healthz.close();
    await systemd.stop();
    await ntp.close();
    await containerd.stop();
    await journal?.stop();
    await rm(kubeconfigDir, { recursive: true, force: true });
    await fixture.cleanup();
  }
}
