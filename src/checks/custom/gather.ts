/**
 * I/O of the custom probes: each reads the node (through the host root,
 * sockets, systemd) and returns plain facts for judge.ts. A problem of the
 * node is a fact; a throw means could not look (the engine reports unknown).
 */
import { connect } from "node:net";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { posix } from "node:path";
import { HostPathError } from "../../node/host.js";
import { KERNEL_MATCH, unitsMatch, type JournalMatch, type JournalReader } from "../../node/journal.js";
import type { ActiveSignature, MatcherCounters } from "../../node/logs/matcher.js";
import type { Signature } from "../../node/logs/signatures.js";
import { FileSource, LogWatch, lineTotals, type ReadReport } from "../../node/logs/watch.js";
import { requiredLiterals } from "../../text/regex.js";
import { readNodeMounts } from "../../node/mountinfo.js";
import { HOST_NETWORK_REMEDY, networkNamespace } from "../../node/namespaces.js";
import type { ProcessRunner, RunResult } from "../../node/process-runner.js";
import { readUnitFiles, SystemdBus, type UnitState } from "../../node/systemd.js";
import { deadline } from "../../time/deadline.js";
import type { CheckContext, ConditionType, FileStat, Host } from "../../types.js";
import type { ProbeOf } from "./probes.js";
import { errorText } from "../../text/format.js";

/** What the file probe reads of a file's content, at most. */
export const FILE_CONTENT_MAX_BYTES = 1024 * 1024;
/** What the http probe reads of a body, at most. */
export const HTTP_BODY_MAX_BYTES = 64 * 1024;

/** Errors that say the path is not there: facts about the node. Anything else is could-not-look. */
const ABSENT = new Set(["ENOENT", "ENOTDIR"]);

function isAbsent(error: unknown): boolean {
  return error instanceof HostPathError && ABSENT.has(error.code);
}

// ------------------------------------------------------------------ file

export type FileFacts =
  | { exists: false }
  | {
      exists: true;
      stat: FileStat;
      /** The content, when `matches` asks for it. */
      content?: string;
      /** The uid `owner` names: undefined when not asked, null when the node has no such user. */
      expectedUid?: number | null;
    };

/** uid of a user in the node's /etc/passwd, null when it is not there. */
async function uidOf(host: Host, user: string, signal: AbortSignal): Promise<number | null> {
  const text = await host.readText("/etc/passwd", { maxBytes: 4 * 1024 * 1024, signal });
  for (const line of text.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name === user && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
  }
  return null;
}

export async function gatherFile(probe: ProbeOf<"file">, ctx: CheckContext): Promise<FileFacts> {
  let stat: FileStat;
  try {
    stat = await ctx.host.stat(probe.path);
  } catch (error) {
    if (isAbsent(error)) return { exists: false };
    throw error;
  }
  const facts: FileFacts = { exists: true, stat };
  if (probe.matches) facts.content = await ctx.host.readText(probe.path, { maxBytes: FILE_CONTENT_MAX_BYTES, signal: ctx.signal });
  if (typeof probe.owner === "string") facts.expectedUid = await uidOf(ctx.host, probe.owner, ctx.signal);
  return facts;
}

// ------------------------------------------------------------------ sysctl

/** /proc/sys path of a sysctl: dots separate levels unless the key is written as a path. */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes("/") ? key : key.replace(/\./g, "/")}`;
}

/** Reads the value (undefined when the key does not exist: a module not loaded). */
export async function gatherSysctl(probe: ProbeOf<"sysctl">, ctx: CheckContext): Promise<{ value: string | undefined }> {
  const path = sysctlPath(probe.key);
  if (path.startsWith("/proc/sys/net/")) {
    // net.* sysctls belong to the reader's network namespace: from a pod's own they describe the pod.
    const ns = await networkNamespace(ctx.host);
    if (ns.host !== true) throw new Error(`${probe.key} is per network namespace and ${ns.detail}. ${HOST_NETWORK_REMEDY}`);
  }
  try {
    const text = await ctx.host.readText(path, { maxBytes: 64 * 1024, signal: ctx.signal });
    return { value: text.trim().replace(/\s+/g, " ") };
  } catch (error) {
    if (isAbsent(error)) return { value: undefined };
    throw error;
  }
}

// ------------------------------------------------------------------ unit

export interface UnitFacts {
  source: "systemd" | "files";
  /** Undefined when the source cannot tell (no bus, and nothing on disk says). */
  activeState?: string;
  subState?: string;
  unitFileState?: string;
  /** systemd: the unit does not exist (LoadState not-found). */
  notFound: boolean;
  /** Why systemd was not asked, or failed; the unit was then judged from its files. */
  busProblem?: string;
}

/** Where systemd's generators put units (fstab's mounts): `systemctl` calls them "generated". */
const GENERATOR_DIRS = ["/run/systemd/generator.early", "/run/systemd/generator", "/run/systemd/generator.late"];
/** A service's cgroup, under each cgroup layout (unified, hybrid, legacy with systemd's named hierarchy). */
const CGROUP_ROOTS = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"];

/** "mnt-data\x2dold.mount" → "/mnt/data-old" (systemd-escape --unescape --path). */
export function mountPointOfUnit(unit: string): string {
  const name = unit.replace(/\.(mount|automount)$/, "");
  if (name === "-") return "/";
  return (
    "/" +
    name
      .split("-")
      .map((part) => part.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))))
      .join("/")
  );
}

/** UnitFileState as systemctl would say it, from the unit tree (enablement links, [Install], generators). */
async function unitFileStateFromFiles(host: Host, unit: string, signal: AbortSignal): Promise<{ state?: string; text?: string }> {
  const files = await readUnitFiles(host, unit, signal);
  if (files.masked) return { state: "masked" };
  if (files.unitFile === undefined) {
    for (const dir of GENERATOR_DIRS) if (await host.exists(posix.join(dir, unit))) return { state: "generated" };
    return files.wantedBy.length > 0 ? { state: "enabled" } : {};
  }
  const text = await host.readText(files.unitFile, { maxBytes: 256 * 1024, signal }).catch(() => "");
  if (files.wantedBy.length > 0) return { state: "enabled", text };
  const install = /^\s*\[Install\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(text)?.[1] ?? "";
  return { state: /^\s*(WantedBy|RequiredBy|UpheldBy|Alias|Also)\s*=\s*\S/m.test(install) ? "disabled" : "static", text };
}

/**
 * ActiveState without systemd: a service runs while its cgroup holds
 * processes; a mount is active while the node's mount table has it. Undefined
 * when the files cannot tell (a oneshot that stays active after exiting, a
 * timer, a cgroup tree not mounted into the pod).
 */
async function activeStateFromFiles(
  host: Host,
  unit: string,
  unitText: string | undefined,
  signal: AbortSignal,
): Promise<{ active: string; sub: string } | undefined> {
  if (/\.(mount|automount)$/.test(unit)) {
    const { mounts } = await readNodeMounts(host, signal);
    const point = mountPointOfUnit(unit);
    const mounted = mounts.some((m) => m.mountPoint === point && (unit.endsWith(".mount") || m.fsType === "autofs"));
    return mounted ? { active: "active", sub: unit.endsWith(".mount") ? "mounted" : "waiting" } : { active: "inactive", sub: "dead" };
  }
  if (!unit.endsWith(".service")) return undefined;
  if (unitText !== undefined && /^\s*RemainAfterExit\s*=\s*(yes|true|on|1)\s*$/im.test(unitText)) return undefined;
  for (const root of CGROUP_ROOTS) {
    let procs: string;
    try {
      procs = await host.readText(`${root}/system.slice/${unit}/cgroup.procs`, { signal });
    } catch (error) {
      if (isAbsent(error)) continue;
      throw error;
    }
    if (procs.trim() !== "") return { active: "active", sub: "running" };
    return { active: "inactive", sub: "dead" };
  }
  // Seeing system.slice itself but not the unit's cgroup: systemd removed it, the service is stopped.
  for (const root of CGROUP_ROOTS) if (await host.exists(`${root}/system.slice`)) return { active: "inactive", sub: "dead" };
  return undefined;
}

export class UnitGatherer {
  private bus?: SystemdBus;

  async gather(probe: ProbeOf<"unit">, ctx: CheckContext, timeoutMs: number): Promise<UnitFacts> {
    this.bus ??= new SystemdBus(ctx.host, probe.dbusSocket, Math.min(1000, timeoutMs));
    let busProblem: string;
    if (await this.bus.available()) {
      try {
        return fromSystemd(await this.bus.unitState(probe.unit, ctx.signal));
      } catch (error) {
        busProblem = `systemd did not answer over D-Bus (${errorText(error)})`;
        ctx.log.debug({ err: busProblem }, "judging the unit from its files");
      }
    } else busProblem = `no system bus socket at ${probe.dbusSocket}`;
    const { state, text } = await unitFileStateFromFiles(ctx.host, probe.unit, ctx.signal);
    const facts: UnitFacts = { source: "files", notFound: false, busProblem, ...(state ? { unitFileState: state } : {}) };
    if (probe.activeState.length > 0 || probe.subState?.length) {
      const active = await activeStateFromFiles(ctx.host, probe.unit, text, ctx.signal);
      if (!active) {
        throw new Error(
          `${busProblem}, and ${probe.unit}'s ActiveState cannot be told from its files (its cgroup is not visible, or it stays active without processes): mount the host's /run/dbus so systemd can be asked`,
        );
      }
      facts.activeState = active.active;
      facts.subState = active.sub;
    }
    return facts;
  }

  close(): void {
    this.bus?.close();
  }
}

function fromSystemd(state: UnitState): UnitFacts {
  const notFound = !state.loaded || state.loadState === "not-found";
  return {
    source: "systemd",
    notFound,
    activeState: state.activeState,
    ...(state.subState !== undefined ? { subState: state.subState } : {}),
    ...(state.unitFileState !== undefined ? { unitFileState: state.unitFileState } : {}),
  };
}

// ------------------------------------------------------------------ tcp, http

/** The node's network view: the agent must share the node's network namespace for a probe to mean anything. */
async function requireHostNetwork(ctx: CheckContext, what: string): Promise<void> {
  const ns = await networkNamespace(ctx.host);
  if (ns.host !== true) throw new Error(`cannot probe ${what} as the node would: ${ns.detail}. ${HOST_NETWORK_REMEDY}`);
}

/** errorText with the errno code in front when the message lacks it ("ECONNREFUSED: …"). */
function errorWithCode(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error.name === "TimeoutError") return error.message;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

export interface TcpFacts {
  connected: boolean;
  elapsedMs: number;
  error?: string;
  timedOut: boolean;
}

export async function gatherTcp(probe: ProbeOf<"tcp">, ctx: CheckContext): Promise<TcpFacts> {
  await requireHostNetwork(ctx, `${probe.host}:${probe.port}`);
  const started = ctx.clock.monotonic();
  const limit = deadline(ctx.clock, probe.timeoutSeconds * 1000, ctx.signal, `connect to ${probe.host}:${probe.port}`);
  try {
    return await new Promise<TcpFacts>((resolve, reject) => {
      const socket = connect({ host: probe.host, port: probe.port });
      const done = (facts: Omit<TcpFacts, "elapsedMs">) => {
        socket.destroy();
        limit.signal.removeEventListener("abort", onAbort);
        resolve({ ...facts, elapsedMs: Math.round(ctx.clock.monotonic() - started) });
      };
      const onAbort = () => {
        const reason: unknown = limit.signal.reason;
        if (reason instanceof Error && reason.name === "TimeoutError" && !ctx.signal.aborted) done({ connected: false, error: reason.message, timedOut: true });
        else {
          socket.destroy();
          reject(reason instanceof Error ? reason : new Error(String(reason)));
        }
      };
      limit.signal.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => done({ connected: true, timedOut: false }));
      socket.once("error", (error) => {
        if ((error as NodeJS.ErrnoException).code === "EMFILE") {
          // The agent's own limit, not a fact about the endpoint.
          socket.destroy();
          limit.signal.removeEventListener("abort", onAbort);
          reject(error);
          return;
        }
        done({ connected: false, error: errorWithCode(error), timedOut: false });
      });
    });
  } finally {
    limit.clear();
  }
}

export interface HttpFacts {
  status?: number;
  body?: string;
  elapsedMs: number;
  error?: string;
}

export async function gatherHttp(probe: ProbeOf<"http">, ctx: CheckContext): Promise<HttpFacts> {
  const url = new URL(probe.url);
  await requireHostNetwork(ctx, url.host);
  const ca = probe.caFile ? await ctx.host.readText(probe.caFile, { maxBytes: 1024 * 1024, signal: ctx.signal }) : undefined;
  const started = ctx.clock.monotonic();
  const limit = deadline(ctx.clock, probe.timeoutSeconds * 1000, ctx.signal, `${probe.method} ${probe.url}`);
  const elapsed = () => Math.round(ctx.clock.monotonic() - started);
  try {
    return await new Promise<HttpFacts>((resolve, reject) => {
      const options = {
        method: probe.method,
        signal: limit.signal,
        agent: false as const,
        headers: { "user-agent": "node-doctor", accept: "*/*" },
        ...(url.protocol === "https:" ? { rejectUnauthorized: !probe.insecureSkipVerify, ...(ca ? { ca } : {}) } : {}),
      };
      const onResponse = (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (!probe.bodyMatches) {
          response.destroy();
          resolve({ status, elapsedMs: elapsed() });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          if (size >= HTTP_BODY_MAX_BYTES) return;
          chunks.push(chunk.subarray(0, HTTP_BODY_MAX_BYTES - size));
          size += chunk.length;
          if (size >= HTTP_BODY_MAX_BYTES) {
            response.destroy();
            resolve({ status, body: Buffer.concat(chunks).toString("utf8"), elapsedMs: elapsed() });
          }
        });
        response.once("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8"), elapsedMs: elapsed() }));
        response.once("error", (error) => fail(error));
      };
      const fail = (error: unknown) => {
        const reason: unknown = limit.signal.aborted ? limit.signal.reason : error;
        if (ctx.signal.aborted || (error as NodeJS.ErrnoException | undefined)?.code === "EMFILE") {
          reject(reason instanceof Error ? reason : new Error(String(reason)));
          return;
        }
        resolve({ error: errorWithCode(reason), elapsedMs: elapsed() });
      };
      const req = url.protocol === "https:" ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
      req.once("error", fail);
      req.end();
    });
  } finally {
    limit.clear();
  }
}

// ------------------------------------------------------------------ log

export interface LogFacts {
  active: ActiveSignature[];
  sources: string[];
  lines: number;
  noise: number;
  counters: MatcherCounters;
}

/** Per run, what a file may give: more is skipped and counted (a flood costs CPU, never memory). */
const LOG_MAX_BYTES_PER_RUN = 16 * 1024 * 1024;
const LOG_MAX_LINE_BYTES = 64 * 1024;

/**
 * The shared log engine (src/node/logs/) on the probe's sources: the journal's
 * units or kernel messages through the agent's one journal reader, files
 * followed across rotation. Built with the check, so the journal reader starts
 * with this subscriber's match.
 */
export class LogGatherer {
  private readonly watch: LogWatch;

  constructor(
    private readonly probe: ProbeOf<"log">,
    outcome: { condition: ConditionType; severity: "warning" | "critical"; reason: string },
    id: string,
    journal: JournalReader,
  ) {
    const signatures: Signature[] = probe.signatures.flatMap((s, i): Signature[] => {
      const problem: Signature = {
        kind: "problem",
        id: `${id}/${i}`,
        components: ["custom"],
        needles: s.contains ?? requiredLiterals(s.pattern.source) ?? [],
        pattern: s.pattern,
        severity: s.severity ?? outcome.severity,
        condition: outcome.condition,
        reason: s.reason ?? outcome.reason,
        message: "",
        remedy: "",
        windowMs: s.windowSeconds * 1000,
        minCount: s.minCount,
      };
      if (!s.clearedBy) return [problem];
      const pattern = s.clearedBy;
      return [
        problem,
        { kind: "recovery", id: `${id}/${i}/cleared`, components: ["custom"], needles: requiredLiterals(pattern.source) ?? [], pattern, clears: [problem.id] },
      ];
    });
    const noise = probe.noise.map((pattern, i) => ({ id: `${id}/noise/${i}`, needles: requiredLiterals(pattern.source) ?? [], pattern, why: "configured" }));
    const match: JournalMatch = [...unitsMatch(probe.journalUnits), ...(probe.kernel ? KERNEL_MATCH : [])];
    const label = [...probe.journalUnits, ...(probe.kernel ? ["the kernel's messages"] : [])].join(", ");
    this.watch = new LogWatch({
      signatures,
      noise,
      sources: ["journal", "file"],
      ...(match.length > 0 ? { journal: { reader: journal, match, label, component: () => "custom" } } : {}),
    });
  }

  /** Reads what is new; throws when no source could be read at all (could not look). */
  async gather(ctx: CheckContext, timeoutMs: number): Promise<LogFacts> {
    const report: ReadReport = await this.watch.read(ctx, {
      sinceMs: ctx.clock.now() - this.probe.lookbackMinutes * 60_000,
      pull: this.probe.files.map((path) => ({
        label: path,
        create: () => new FileSource(ctx.host, path, { maxLineBytes: LOG_MAX_LINE_BYTES, maxBytesPerRun: LOG_MAX_BYTES_PER_RUN }),
      })),
      component: "custom",
      // As the kubelet-logs check: reading stops at 40% of the timeout and goes on next run.
      readBudgetMs: timeoutMs * 0.4,
      firstWaitMs: Math.min(1500, timeoutMs * 0.3),
    });
    if (report.sources.length === 0) {
      const tried = [
        ...(this.probe.journalUnits.length > 0 || this.probe.kernel
          ? [this.watch.journalDirectory ? `the journal in ${this.watch.journalDirectory} could not be read` : "no journal on this node"]
          : []),
        ...(this.probe.files.length > 0 ? [`no readable file among ${this.probe.files.join(", ")}`] : []),
        ...report.problems,
      ];
      throw new Error(`no log to read: ${tried.join("; ")}`);
    }
    const counters = this.watch.counters();
    const totals = lineTotals(counters);
    return { active: this.watch.active(ctx.clock.now()), sources: report.sources, lines: totals.lines, noise: totals.noise, counters };
  }

  close(): Promise<void> {
    return this.watch.close();
  }
}

// ------------------------------------------------------------------ npd-plugin

/** Where a plugin finds its tools: the container's usual directories. */
const PLUGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export async function gatherPlugin(
  probe: ProbeOf<"npd-plugin">,
  ctx: CheckContext,
  runner: ProcessRunner,
  options: { queueWaitMs: number; onSpawn: () => void },
): Promise<RunResult> {
  // The wait for a free slot ends before the check's own deadline, so a full queue is reported as such.
  const wait = deadline(ctx.clock, options.queueWaitMs, ctx.signal, "a free plugin slot");
  const nodeName = ctx.cluster?.nodeName ?? process.env["NODE_NAME"];
  try {
    return await runner.run({
      path: probe.path,
      args: probe.args,
      env: { PATH: PLUGIN_PATH, NODE_DOCTOR_HOST_ROOT: ctx.host.root, ...(nodeName ? { NODE_NAME: nodeName } : {}), ...probe.env },
      timeoutMs: probe.timeoutSeconds * 1000,
      maxOutputBytes: probe.maxOutputBytes,
      clock: ctx.clock,
      signal: ctx.signal,
      waitSignal: wait.signal,
      onSpawn: options.onSpawn,
    });
  } finally {
    wait.clear();
  }
}
