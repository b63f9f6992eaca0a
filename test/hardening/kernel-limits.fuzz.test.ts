/**
 * Hostile input for the parsers of the kernel's resource counters:
 * /proc/loadavg, sysctl integers, file-nr, /proc/net/stat/nf_conntrack,
 * /proc/pressure/* and a cgroup's pids files. Property: an answer of the
 * right shape or an Error naming the file, never another throw, within a
 * bounded time; the well-formed generated file always parses to its numbers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  parseConntrackStat,
  parseFileNr,
  parseLoadavg,
  parsePidsEvents,
  parsePidsMax,
  parsePressure,
  parseSysctlInteger,
  podUidOf,
} from "../../src/node/kernel-limits.js";
import { FIXTURES } from "../support/fixture-root.js";
import { nearly, RUNS, timed } from "../support/fuzz.js";

const HEALTHY = join(FIXTURES, "exhaustion-healthy");
const EXHAUSTED = join(FIXTURES, "exhaustion-exhausted");
const lines = (root: string, path: string) => readFileSync(join(root, path), "utf8").split("\n");
const JUNK = ["\0", "\t", " ", "\n", "ffffffff", "00000000", "zz", "\xff", "-1", "0x", "avg10=", "total=", "max", "1".repeat(40), "/", "NaN", "1e309"];

/** Parses or throws an Error whose message starts with a path; any other throw fails the property. */
function parsesOrNames<T>(fn: () => T, path: RegExp): T | undefined {
  try {
    return timed(fn);
  } catch (error) {
    assert.ok(error instanceof Error, `threw ${String(error)}`);
    assert.match(error.message, path);
    return undefined;
  }
}

const finite = (n: number) => Number.isFinite(n) && n >= 0;

describe("hostile input to the kernel-limit parsers", () => {
  it("/proc/loadavg: finite counts or an error naming /proc/loadavg", () => {
    fc.assert(
      fc.property(fc.oneof(nearly([...lines(HEALTHY, "proc/loadavg"), ...lines(EXHAUSTED, "proc/loadavg")], JUNK), fc.string()), (text) => {
        const load = parsesOrNames(() => parseLoadavg(text), /^\/proc\/loadavg: /);
        if (load) for (const n of [load.load1, load.load5, load.load15, load.runnable, load.threads, load.lastPid]) assert.ok(finite(n));
      }),
      RUNS,
    );
  });

  it("sysctl integers and file-nr: finite numbers or an error naming the path", () => {
    fc.assert(
      fc.property(fc.oneof(nearly([...lines(HEALTHY, "proc/sys/fs/file-nr"), "9223372036854775807", "32768"], JUNK), fc.string()), (text) => {
        const n = parsesOrNames(() => parseSysctlInteger("/proc/sys/kernel/pid_max", text), /^\/proc\/sys\/kernel\/pid_max: /);
        if (n !== undefined) assert.ok(Number.isFinite(n));
        const nr = parsesOrNames(() => parseFileNr(text), /^\/proc\/sys\/fs\/file-nr: /);
        if (nr) for (const v of [nr.allocated, nr.unused, nr.max]) assert.ok(finite(v));
      }),
      RUNS,
    );
  });

  it("/proc/net/stat/nf_conntrack: every column's total finite, or an error naming the file", () => {
    fc.assert(
      fc.property(fc.oneof(nearly(lines(EXHAUSTED, "proc/net/stat/nf_conntrack"), JUNK), fc.string()), (text) => {
        const stats = parsesOrNames(() => parseConntrackStat(text), /^\/proc\/net\/stat\/nf_conntrack: /);
        if (!stats) return;
        assert.equal(Object.getPrototypeOf(stats.totals), null);
        for (const column of stats.columns) assert.ok(finite(stats.totals[column] as number), column);
      }),
      RUNS,
    );
  });

  it("/proc/net/stat/nf_conntrack as the kernel writes it (any CPUs, any 32-bit counters) sums exactly", () => {
    const row = fc.array(fc.nat({ max: 0xffffffff }), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(row, { minLength: 1, maxLength: 64 }), (entries, rows) => {
        const hex = (n: number) => n.toString(16).padStart(8, "0");
        const text = ["entries  drop early_drop insert_failed", ...rows.map((r) => [entries, ...r].map(hex).join(" "))].join("\n") + "\n";
        const stats = timed(() => parseConntrackStat(text));
        assert.equal(stats.totals["entries"], entries);
        rows[0]?.forEach((_, i) =>
          assert.equal(
            stats.totals[["drop", "early_drop", "insert_failed"][i] as string],
            rows.reduce((sum, r) => sum + (r[i] as number), 0),
          ),
        );
      }),
      RUNS,
    );
  });

  it("/proc/pressure: shares within 0–100 and finite totals, or an error naming the file", () => {
    const sample = [...lines(EXHAUSTED, "proc/pressure/memory"), ...lines(HEALTHY, "proc/pressure/cpu")];
    fc.assert(
      fc.property(fc.oneof(nearly(sample, JUNK), fc.string()), (text) => {
        const p = parsesOrNames(() => parsePressure("/proc/pressure/memory", text), /^\/proc\/pressure\/memory( line \d+)?: /);
        if (!p) return;
        for (const line of [p.some, p.full]) {
          if (!line) continue;
          for (const share of [line.avg10, line.avg60, line.avg300]) assert.ok(share >= 0 && share <= 100);
          assert.ok(finite(line.totalUs));
        }
      }),
      RUNS,
    );
  });

  it("pids.max, pids.events and cgroup names: a value of the right kind, or an error naming the file", () => {
    fc.assert(
      fc.property(
        fc.oneof(nearly(["max", "1024", "max 37", "kubepods-burstable-pod8f2c1d3e_5b7a_4c9e_9d1f_2a6b3c4d5e6f.slice"], JUNK), fc.string()),
        (text) => {
          const max = parsesOrNames(() => parsePidsMax("pids.max", text), /^pids\.max: /);
          assert.ok(max === undefined || max === "max" || Number.isFinite(max));
          const refused = parsesOrNames(() => parsePidsEvents("pids.events", text), /^pids\.events: /);
          assert.ok(refused === undefined || finite(refused));
          const uid = timed(() => podUidOf(text));
          assert.ok(uid === undefined || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uid));
        },
      ),
      RUNS,
    );
  });
});
