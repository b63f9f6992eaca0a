/**
 * Parsers for the kernel's counters of finite resources: tasks (/proc/loadavg,
 * kernel.pid_max, kernel.threads-max, a cgroup's pids.*), file handles
 * (fs.file-nr, fs.file-max), inotify limits, conntrack (nf_conntrack_count,
 * nf_conntrack_max, /proc/net/stat/nf_conntrack) and pressure stall
 * information (/proc/pressure/*). Pure: text in, numbers out; a malformed
 * file is an Error naming the path and what was wrong, never a guess.
 */

/** Bounds on what is parsed: one row per possible CPU (the kernel's NR_CPUS tops out at 8192), columns the kernel prints today and some. */
const MAX_CPU_ROWS = 8192;
const MAX_COLUMNS = 64;

function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** A decimal integer as the kernel prints it (no sign unless negative, no spaces inside); undefined otherwise. */
function decimal(token: string | undefined): number | undefined {
  if (token === undefined || !/^-?\d{1,20}$/.test(token)) return undefined;
  const value = Number(token);
  return Number.isFinite(value) ? value : undefined;
}

/** A sysctl holding one integer (kernel.pid_max, fs.file-max, fs.inotify.max_user_watches …). */
export function parseSysctlInteger(path: string, text: string): number {
  const value = decimal(text.trim());
  if (value === undefined) throw new Error(`${path}: expected one integer, got ${preview(text.trim())}`);
  return value;
}

export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
  /** Tasks runnable now (field 4, before the slash). */
  runnable: number;
  /** Every task on the node, kernel threads included (field 4, after the slash): what pid_max and threads-max limit. */
  threads: number;
  lastPid: number;
}

/** /proc/loadavg: "0.20 0.18 0.12 1/80 11206" (fs/proc/loadavg.c). */
export function parseLoadavg(text: string): LoadAverage {
  const fields = text.trim().split(/\s+/);
  const loads = fields.slice(0, 3).map((f) => (/^\d{1,10}\.\d{2}$/.test(f) ? Number(f) : NaN));
  const tasks = /^(\d{1,10})\/(\d{1,10})$/.exec(fields[3] ?? "");
  const lastPid = decimal(fields[4]);
  if (fields.length !== 5 || loads.some((l) => !Number.isFinite(l)) || !tasks || lastPid === undefined) {
    throw new Error(`/proc/loadavg: expected "<load1> <load5> <load15> <runnable>/<threads> <last pid>", got ${preview(text.trim())}`);
  }
  const [load1, load5, load15] = loads as [number, number, number];
  return { load1, load5, load15, runnable: Number(tasks[1]), threads: Number(tasks[2]), lastPid };
}

export interface FileHandles {
  /** Handles the kernel has allocated. */
  allocated: number;
  /** Allocated but unused (always 0 since Linux 2.6: freed handles are returned at once). */
  unused: number;
  /** fs.file-max as file-nr reports it. */
  max: number;
}

/** /proc/sys/fs/file-nr: "1103\t0\t2466165" (fs/file_table.c proc_nr_files). */
export function parseFileNr(text: string): FileHandles {
  const fields = text.trim().split(/\s+/);
  const [allocated, unused, max] = fields.map(decimal);
  if (fields.length !== 3 || allocated === undefined || unused === undefined || max === undefined || allocated < 0 || unused < 0 || max < 0) {
    throw new Error(`/proc/sys/fs/file-nr: expected "<allocated> <unused> <max>", got ${preview(text.trim())}`);
  }
  return { allocated, unused, max };
}

/** Per-CPU conntrack counters summed over CPUs, by the header's column names (drop, early_drop, insert_failed …). */
export interface ConntrackStats {
  /** The header's columns, in order. */
  columns: string[];
  /** Each column summed over every CPU row; `entries` is the global count, which every row repeats, so it is taken once. */
  totals: Record<string, number>;
  cpus: number;
}

/**
 * /proc/net/stat/nf_conntrack: a header of column names, then one row per
 * possible CPU of 8-digit hex counters (net/netfilter/nf_conntrack_standalone.c
 * ct_cpu_seq_show). Counters are unsigned 32-bit and wrap; rates are taken
 * modulo 2^32 per CPU by whoever compares two looks, so the rows' sums are
 * kept as plain numbers here.
 */
export function parseConntrackStat(text: string): ConntrackStats {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  if (header.length === 0 || header.length > MAX_COLUMNS || !header.every((c) => /^[a-z_]{1,32}$/.test(c))) {
    throw new Error(`/proc/net/stat/nf_conntrack: expected a header of column names, got ${preview(lines[0] ?? "")}`);
  }
  const rows = lines.slice(1);
  if (rows.length === 0) throw new Error("/proc/net/stat/nf_conntrack: a header and no CPU rows");
  if (rows.length > MAX_CPU_ROWS) throw new Error(`/proc/net/stat/nf_conntrack: ${rows.length} CPU rows, more than the ${MAX_CPU_ROWS} possible`);
  const totals: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const column of header) totals[column] = 0;
  rows.forEach((row, index) => {
    const cells = row.trim().split(/\s+/);
    if (cells.length !== header.length || !cells.every((c) => /^[0-9a-f]{1,16}$/i.test(c))) {
      throw new Error(
        `/proc/net/stat/nf_conntrack: CPU row ${index + 1} has ${cells.length} cells for ${header.length} columns or a cell that is not hex: ${preview(row.trim())}`,
      );
    }
    cells.forEach((cell, i) => {
      const column = header[i] as string;
      const value = Number.parseInt(cell, 16);
      if (column === "entries") totals[column] = index === 0 ? value : (totals[column] as number);
      else totals[column] = (totals[column] as number) + value;
    });
  });
  return { columns: header, totals, cpus: rows.length };
}

export interface PressureLine {
  /** Share of the last 10, 60 and 300 seconds, in percent (0–100). */
  avg10: number;
  avg60: number;
  avg300: number;
  /** Stalled time since boot, in microseconds. */
  totalUs: number;
}

export interface Pressure {
  some: PressureLine;
  /** Absent from /proc/pressure/cpu before Linux 5.13. */
  full?: PressureLine;
}

const PRESSURE_LINE = /^(some|full) avg10=(\d{1,3}\.\d{2}) avg60=(\d{1,3}\.\d{2}) avg300=(\d{1,3}\.\d{2}) total=(\d{1,20})$/;

/** /proc/pressure/{cpu,memory,io}: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line (kernel/sched/psi.c psi_show). */
export function parsePressure(path: string, text: string): Pressure {
  const out: Partial<Pressure> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const match = PRESSURE_LINE.exec(line);
    if (!match) throw new Error(`${path} line ${index + 1}: expected "some|full avg10=… avg60=… avg300=… total=…", got ${preview(line)}`);
    const kind = match[1] as "some" | "full";
    if (out[kind]) throw new Error(`${path} line ${index + 1}: a second "${kind}" line`);
    const [avg10, avg60, avg300] = [match[2], match[3], match[4]].map(Number) as [number, number, number];
    if (avg10 > 100 || avg60 > 100 || avg300 > 100) throw new Error(`${path} line ${index + 1}: a share above 100%: ${preview(line)}`);
    out[kind] = { avg10, avg60, avg300, totalUs: Number(match[5]) };
  }
  if (!out.some) throw new Error(`${path}: no "some" line`);
  return out as Pressure;
}

/** A cgroup's pids.max: a number, or "max" (no limit). */
export function parsePidsMax(path: string, text: string): number | "max" {
  const value = text.trim();
  if (value === "max") return "max";
  return parseSysctlInteger(path, value);
}

/** A cgroup's pids.events: "max 3" (forks refused because pids.max was reached). */
export function parsePidsEvents(path: string, text: string): number {
  const match = /^max (\d{1,20})$/m.exec(text);
  if (!match) throw new Error(`${path}: expected a "max <count>" line, got ${preview(text.trim())}`);
  return Number(match[1]);
}

/** The pod UID in a pod cgroup's name: "pod<uid>" (cgroupfs) or "kubepods-burstable-pod<uid with _ for ->.slice" (systemd). */
export function podUidOf(cgroupName: string): string | undefined {
  const match = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/.exec(cgroupName);
  return match ? (match[1] as string).replaceAll("_", "-") : undefined;
}
