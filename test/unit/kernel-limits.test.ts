/**
 * The parsers of the kernel's resource counters, on files as the kernel wrote
 * them (test/fixtures/exhaustion-healthy and -exhausted, see their SOURCES.md)
 * and on one table row per malformed shape: each error names the file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
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
import { kubeletPidSettings } from "../../src/node/kubelet/pids.js";
import { parseKubeletFlags } from "../../src/node/kubelet/flags.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { FIXTURES } from "../support/fixture-root.js";

const HEALTHY = join(FIXTURES, "exhaustion-healthy");
const EXHAUSTED = join(FIXTURES, "exhaustion-exhausted");
const read = (root: string, path: string) => readFileSync(join(root, path), "utf8");

describe("/proc/loadavg", () => {
  it("reads the tasks on the node from field 4, as recorded", () => {
    const load = parseLoadavg(read(HEALTHY, "proc/loadavg"));
    assert.equal(load.threads, 228);
    assert.equal(load.runnable, 2);
    assert.equal(load.load1, 3.27);
    assert.equal(parseLoadavg(read(EXHAUSTED, "proc/loadavg")).threads, 29876);
  });

  for (const [text, why] of [
    ["", "empty"],
    ["0.00 0.01 0.05 1/80", "four fields"],
    ["0.00 0.01 0.05 1-80 11206", "no slash"],
    ["a.bc 0.01 0.05 1/80 11206", "a load that is not a number"],
    ["0.00 0.01 0.05 1/80 11206 9", "six fields"],
  ] as const) {
    it(`refuses ${why}, naming the file`, () => assert.throws(() => parseLoadavg(text), /^Error: \/proc\/loadavg: expected/));
  }
});

describe("sysctl integers", () => {
  it("reads pid_max, threads-max, file-max, nf_conntrack_max and the inotify limits as recorded", () => {
    for (const [path, value] of [
      ["proc/sys/kernel/pid_max", 32768],
      ["proc/sys/kernel/threads-max", 192729],
      ["proc/sys/fs/file-max", 2466165],
      ["proc/sys/net/netfilter/nf_conntrack_max", 262144],
      ["proc/sys/fs/inotify/max_user_instances", 128],
      ["proc/sys/fs/inotify/max_user_watches", 192536],
    ] as const) {
      assert.equal(parseSysctlInteger(path, read(HEALTHY, path)), value, path);
    }
  });

  it("reads fs.file-max's largest value (LONG_MAX on kernels that leave it unlimited)", () => {
    assert.equal(parseSysctlInteger("/proc/sys/fs/file-max", "9223372036854775807\n"), 9223372036854775807);
  });

  for (const text of ["", "max", "12 13", "0x10", "1e9", "12abc"]) {
    it(`refuses ${JSON.stringify(text)}, naming the path`, () =>
      assert.throws(() => parseSysctlInteger("/proc/sys/kernel/pid_max", text), /^Error: \/proc\/sys\/kernel\/pid_max: expected one integer/));
  }
});

describe("/proc/sys/fs/file-nr", () => {
  it("reads allocated, unused and max (tab-separated, as recorded)", () => {
    assert.deepEqual(parseFileNr(read(HEALTHY, "proc/sys/fs/file-nr")), { allocated: 1123, unused: 0, max: 2466165 });
  });
  for (const text of ["1123 0", "1123 0 x", "1123 0 2466165 7", "-1 0 5", ""]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseFileNr(text), /file-nr: expected "<allocated> <unused> <max>"/));
  }
});

describe("/proc/net/stat/nf_conntrack", () => {
  it("sums the per-CPU hex rows by column and takes the global entries once (a netns whose table filled: 64 entries, 32 drops on CPU 1)", () => {
    const stats = parseConntrackStat(read(EXHAUSTED, "proc/net/stat/nf_conntrack"));
    assert.equal(stats.cpus, 2);
    assert.equal(stats.totals["entries"], 64);
    assert.equal(stats.totals["drop"], 32);
    assert.equal(stats.totals["early_drop"], 0);
    assert.equal(stats.totals["insert_failed"], 0);
    assert.deepEqual(stats.columns.slice(0, 3), ["entries", "clashres", "found"]);
  });

  it("reads the header of kernels before 5.x (searched, no clashres) by name, not by position", () => {
    const text = [
      "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart",
      "000002a4  00000000 00000000 00000000 00000005 00001a2b 00000000 00000000 00000000 00000003 00000010 00000002 00000000  00000000 00000000 00000000 00000000",
      "000002a4  00000000 00000000 00000000 00000001 0000111f 00000000 00000000 00000000 00000001 00000000 00000001 00000000  00000000 00000000 00000000 00000000",
    ].join("\n");
    const stats = parseConntrackStat(text);
    assert.equal(stats.totals["entries"], 0x2a4);
    assert.equal(stats.totals["insert_failed"], 4);
    assert.equal(stats.totals["drop"], 16);
    assert.equal(stats.totals["early_drop"], 3);
  });

  for (const [text, problem] of [
    ["", /expected a header of column names/],
    ["entries drop\n", /a header and no CPU rows/],
    ["entries drop\n00000001\n", /CPU row 1 has 1 cells for 2 columns/],
    ["entries drop\n00000001 zz\n", /not hex/],
    ["Entries Drop\n1 1\n", /expected a header of column names/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseConntrackStat(text), problem));
  }
});

describe("/proc/pressure", () => {
  it("reads some and full of memory and io, as recorded", () => {
    const memory = parsePressure("/proc/pressure/memory", read(EXHAUSTED, "proc/pressure/memory"));
    assert.deepEqual(memory.full, { avg10: 38.02, avg60: 27.45, avg300: 21.66, totalUs: 208817392 });
    assert.equal(memory.some.avg60, 48.73);
    const io = parsePressure("/proc/pressure/io", read(HEALTHY, "proc/pressure/io"));
    assert.ok(io.full);
  });

  it("reads the CPU file of kernels before 5.13, which has no full line", () => {
    const cpu = parsePressure("/proc/pressure/cpu", "some avg10=1.20 avg60=0.80 avg300=0.33 total=123456\n");
    assert.equal(cpu.full, undefined);
    assert.equal(cpu.some.avg10, 1.2);
  });

  for (const [text, problem] of [
    ["", /no "some" line/],
    ["full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", /no "some" line/],
    ["some avg10=0.00 avg60=0.00 total=0\n", /line 1: expected/],
    ["some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", /line 2: a second "some" line/],
    ["some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", /a share above 100%/],
  ] as const) {
    it(`refuses ${JSON.stringify(text.slice(0, 40))}, naming the file and line`, () =>
      assert.throws(() => parsePressure("/proc/pressure/memory", text), problem));
  }
});

describe("a cgroup's pids files and pod UIDs", () => {
  it("reads pids.max (a number or max) and pids.events' refused forks", () => {
    assert.equal(parsePidsMax("pids.max", "max\n"), "max");
    assert.equal(parsePidsMax("pids.max", "1024\n"), 1024);
    assert.equal(parsePidsEvents("pids.events", "max 37\n"), 37);
    assert.throws(() => parsePidsEvents("/sys/fs/cgroup/x/pids.events", "37\n"), /\/sys\/fs\/cgroup\/x\/pids.events: expected a "max <count>" line/);
    assert.throws(() => parsePidsMax("/sys/fs/cgroup/x/pids.max", "unlimited\n"), /pids.max: expected one integer/);
  });

  it("finds the pod UID in systemd's and cgroupfs's names, and nowhere else", () => {
    assert.equal(podUidOf("kubepods-burstable-pod8f2c1d3e_5b7a_4c9e_9d1f_2a6b3c4d5e6f.slice"), "8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f");
    assert.equal(podUidOf("kubepods-pod8f2c1d3e_5b7a_4c9e_9d1f_2a6b3c4d5e6f.slice"), "8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f");
    assert.equal(podUidOf("pod8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f"), "8f2c1d3e-5b7a-4c9e-9d1f-2a6b3c4d5e6f");
    for (const name of ["kubepods-burstable.slice", "system.slice", "pods", "pod1234", "cri-containerd-8f2c1d3e.scope", "pids.max"])
      assert.equal(podUidOf(name), undefined, name);
  });
});

describe("kubelet's pid settings through the kubelet reader", () => {
  const files = (merged: Record<string, unknown>) =>
    composeConfigFiles({ file: { ok: true, path: "/var/lib/kubelet/config.yaml", value: merged }, fileFromFlag: false, dropIns: [] });

  it("podPidsLimit and evictionHard's pid.available from the config file", () => {
    const s = kubeletPidSettings({
      flags: parseKubeletFlags([]),
      configFiles: files({ podPidsLimit: 1024, evictionHard: { "pid.available": "10%" } }),
      configPath: "/var/lib/kubelet/config.yaml",
    });
    assert.equal(s.podPidsLimit, 1024);
    assert.match(s.podPidsLimitSource, /podPidsLimit: 1024 in \/var\/lib\/kubelet\/config.yaml/);
    assert.deepEqual(s.hard, { kind: "percent", value: 10 });
    assert.equal(s.evictionSource, "evictionHard in /var/lib/kubelet/config.yaml");
  });

  it("flags win: --pod-max-pids and --eviction-hard replace the config's", () => {
    const s = kubeletPidSettings({
      flags: parseKubeletFlags(["--pod-max-pids=-1", "--eviction-hard=memory.available<100Mi,pid.available<2000", "--eviction-soft=pid.available<20%"]),
      configFiles: files({ podPidsLimit: 1024, evictionHard: { "pid.available": "10%" } }),
    });
    assert.equal(s.podPidsLimit, undefined);
    assert.equal(s.podPidsLimitSource, "--pod-max-pids=-1");
    assert.deepEqual(s.hard, { kind: "absolute", value: 2000 });
    assert.deepEqual(s.soft, { kind: "percent", value: 20 });
    assert.equal(s.softSource, "kubelet's --eviction-soft flag");
    assert.equal(s.evictionSource, "kubelet's --eviction-hard flag");
  });

  it("kubelet's defaults: no pod limit, no pid.available threshold; a podPidsLimit that is not an integer is named", () => {
    const none = kubeletPidSettings({ flags: parseKubeletFlags([]) });
    assert.equal(none.podPidsLimit, undefined);
    assert.equal(none.hard, undefined);
    assert.match(none.podPidsLimitSource, /default/);
    const bad = kubeletPidSettings({ flags: parseKubeletFlags([]), configFiles: files({ podPidsLimit: "lots" }) });
    assert.match(bad.problems.join(), /podPidsLimit: expected an integer, got "lots"/);
  });
});
