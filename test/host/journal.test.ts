/**
 * The journal reader: one journalctl child for every subscriber (the OR of
 * their matches), each line to the subscribers it belongs to, a bounded
 * look-back, restarts with backoff on the injected clock resuming after the
 * last cursor, and a flood shed without losing needle lines. A small shell
 * script stands in for journalctl where a real one cannot misbehave on
 * demand; the real one reads a real journal at the end.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  FOLLOW_BATCH_MS,
  journalctlArgs,
  KERNEL_MATCH,
  matchArgs,
  readControl,
  unitsMatch,
  type JournalReader,
  type JournalSubscriberSpec,
} from "../../src/node/journal.js";
import type { JournalEntry } from "../../src/node/log-line.js";
import { FakeClock } from "../support/fake-clock.js";
import { kernelEntry, testJournalReader, unitEntry, writeJournal } from "../support/journal.js";

let dir: string;
/** A host root whose /var/log/journal holds a file, so the reader has a journal to read. */
let root: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "node-doctor-journal-"));
  root = join(dir, "root");
  await mkdir(join(root, "var/log/journal/m"), { recursive: true });
  await writeFile(join(root, "var/log/journal/m/system.journal"), "");
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let reader: JournalReader | undefined;
afterEach(async () => {
  await reader?.close();
  reader = undefined;
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function makeReader(journalctl: string, clock = new FakeClock(), settings: Record<string, unknown> = {}): JournalReader {
  reader = testJournalReader(root, clock, { journalctl, ...settings });
  return reader;
}

/** A subscriber recording what it is given. */
function recorder(match: JournalSubscriberSpec["match"], keep?: string[]) {
  const seen = { entries: [] as JournalEntry[], skipped: { unmatched: 0, dropped: 0, unparseable: 0 } };
  const spec: JournalSubscriberSpec = {
    match,
    ...(keep ? { keep } : {}),
    onEntry: (e) => seen.entries.push(e),
    onSkipped: (result, n) => (seen.skipped[result] += n),
  };
  return { spec, seen };
}

const line = (fields: Record<string, string>) => JSON.stringify({ __CURSOR: `c-${fields["MESSAGE"]}`, __REALTIME_TIMESTAMP: "1764072000000000", ...fields });

describe("journalctlArgs", () => {
  it("reads the look-back first, then follows after the cursor; matches are ORed with +", () => {
    const match = [...unitsMatch(["kubelet.service"]), ...KERNEL_MATCH];
    assert.deepEqual(journalctlArgs({ directory: "/host/var/log/journal", match, follow: false, sinceMs: 1_700_000_000_999 }), [
      "--directory",
      "/host/var/log/journal",
      "--output",
      "json",
      "--no-pager",
      "--quiet",
      "--since",
      "@1700000000",
      "--output-fields",
      "MESSAGE,_SYSTEMD_UNIT,UNIT,_PID,_TRANSPORT,SYSLOG_IDENTIFIER,_COMM,PRIORITY",
      "_SYSTEMD_UNIT=kubelet.service",
      "+",
      "UNIT=kubelet.service",
      "_PID=1",
      "+",
      "_TRANSPORT=kernel",
    ]);
    const follow = journalctlArgs({ directory: "/j", match, follow: true, sinceMs: 0, afterCursor: "s=1;i=2" });
    assert.ok(follow.includes("--follow"));
    assert.deepEqual(follow.slice(follow.indexOf("--after-cursor"), follow.indexOf("--after-cursor") + 2), ["--after-cursor", "s=1;i=2"]);
    assert.ok(!follow.includes("--since"));
    assert.deepEqual(matchArgs([]), []);
  });
});

describe("JournalReader", () => {
  it("serves two subscribers from one journalctl: the OR of their matches, each line to its own", async () => {
    const argsLog = join(dir, "two-args.log");
    const fake = await script(
      "journalctl-two",
      [
        `echo "$*" >> ${argsLog}`,
        `case "$*" in *--follow*) exec sleep 30;; esac`,
        `echo '${line({ MESSAGE: "PLEG is not healthy", _SYSTEMD_UNIT: "kubelet.service" })}'`,
        `echo '${line({ MESSAGE: "ordinary kubelet line", _SYSTEMD_UNIT: "kubelet.service" })}'`,
        `echo '${line({ MESSAGE: "Out of memory: Killed process 1 (x)", _TRANSPORT: "kernel" })}'`,
        `echo '${line({ MESSAGE: "ordinary kernel line", _TRANSPORT: "kernel" })}'`,
        `echo '${line({ MESSAGE: "kubelet.service: Main process exited", UNIT: "kubelet.service", _PID: "1" })}'`,
      ].join("\n"),
    );
    const clock = new FakeClock();
    const r = makeReader(fake, clock);
    const kubelet = recorder(unitsMatch(["kubelet.service"]), ["pleg is not healthy", "main process exited"]);
    const kernel = recorder(KERNEL_MATCH, ["out of memory"]);
    const a = r.subscribe(kubelet.spec);
    const b = r.subscribe(kernel.spec);
    await a.open(clock.now() - 60_000);
    assert.equal(r.status().starts, 0, "waits for the other registered subscriber");
    await b.open(clock.now() - 600_000);
    await a.settled();
    await until(async () => (await readFile(argsLog, "utf8")).includes("--follow"), "the following journalctl");
    assert.deepEqual(
      kubelet.seen.entries.map((e) => e.message),
      ["PLEG is not healthy", "kubelet.service: Main process exited"],
    );
    assert.deepEqual(
      kernel.seen.entries.map((e) => e.message),
      ["Out of memory: Killed process 1 (x)"],
    );
    assert.equal(kubelet.seen.skipped.unmatched, 1, "the kubelet line without a needle is counted for kubelet only");
    assert.equal(kernel.seen.skipped.unmatched, 1, "and the kernel's for the kernel");
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.equal(calls.length, 2, "one look-back child, then one follower");
    assert.match(calls[0] ?? "", /_SYSTEMD_UNIT=kubelet\.service \+ UNIT=kubelet\.service _PID=1 \+ _TRANSPORT=kernel$/);
    assert.match(calls[0] ?? "", new RegExp(`--since @${Math.floor((clock.now() - 600_000) / 1000)}`), "from the earliest subscriber's since");
    await a.close();
    assert.equal(r.status().running, true, "the other subscriber still reads");
    await b.close();
    assert.equal(r.status().running, false, "the last one to leave ends the child");
  });

  it("with two subscribers, gives each line of a read to the ones whose match it carries, a group's terms all present, a line split across reads too", async () => {
    const kill = (i: number) => line({ MESSAGE: `Memory cgroup out of memory: Killed process ${1000 + i} (stress) total-vm:268380kB`, _TRANSPORT: "kernel" });
    const lines = [
      line({ MESSAGE: "kubelet.service: Main process exited", UNIT: "kubelet.service", _PID: "1" }),
      line({ MESSAGE: "ordinary kubelet line", _SYSTEMD_UNIT: "kubelet.service" }),
      // UNIT without _PID=1 is a unit's own process, not systemd about kubelet: one term of the group is not enough.
      line({ MESSAGE: "ordinary line of another process", UNIT: "kubelet.service", _PID: "2" }),
      line({ MESSAGE: "ordinary kernel line", _TRANSPORT: "kernel" }),
      ...Array.from({ length: 12 }, (_, i) => kill(i)),
    ].join("\n");
    // The last kill arrives in two reads: joined, it is searched on its own.
    const cut = lines.length - 40;
    await writeFile(join(dir, "route-1.jsonl"), lines.slice(0, cut));
    await writeFile(join(dir, "route-2.jsonl"), lines.slice(cut) + "\n");
    const fake = await script(
      "journalctl-route",
      `case "$*" in *--follow*) exec sleep 30;; esac\ncat ${join(dir, "route-1.jsonl")}\nsleep 0.2\ncat ${join(dir, "route-2.jsonl")}`,
    );
    const r = makeReader(fake);
    const kubelet = recorder(unitsMatch(["kubelet.service"]), ["main process exited"]);
    const kernel = recorder(KERNEL_MATCH, ["memory cgroup out of memory"]);
    const counted = [0];
    const tally = { markers: ["Memory cgroup out of memory: Kill"], perSecond: 5, onTally: (i: number, n: number) => (counted[i] = (counted[i] ?? 0) + n) };
    const a = r.subscribe(kubelet.spec);
    const b = r.subscribe({ ...kernel.spec, tally });
    await Promise.all([a.open(0), b.open(0)]);
    await a.settled();
    assert.deepEqual(
      kubelet.seen.entries.map((e) => e.message),
      ["kubelet.service: Main process exited"],
    );
    assert.equal(kubelet.seen.skipped.unmatched, 1, "kubelet's ordinary line only, not the other process's");
    assert.equal(kernel.seen.entries.length, 5, "the kernel's share of the second parsed");
    assert.deepEqual(counted, [7], "the rest counted for the kernel, the split one too");
    assert.equal(kernel.seen.skipped.unmatched, 1);
  });

  it("never reads further back than maxLookbackHours", async () => {
    const argsLog = join(dir, "bound-args.log");
    const fake = await script("journalctl-bound", `echo "$*" >> ${argsLog}\ncase "$*" in *--follow*) exec sleep 30;; esac`);
    const clock = new FakeClock();
    const r = makeReader(fake, clock, { maxLookbackHours: 1 });
    const sub = r.subscribe(recorder(KERNEL_MATCH, ["x"]).spec);
    await sub.open(0);
    await sub.settled();
    assert.match((await readFile(argsLog, "utf8")).split("\n")[0] ?? "", new RegExp(`--since @${Math.floor((clock.now() - 3_600_000) / 1000)} `));
  });

  it("a subscriber that opens late restarts the child with its match, after the cursor", async () => {
    const argsLog = join(dir, "late-args.log");
    const fake = await script(
      "journalctl-late",
      `echo "$*" >> ${argsLog}\necho '${line({ MESSAGE: "kubelet line", _SYSTEMD_UNIT: "kubelet.service" })}'\ncase "$*" in *--follow*) exec sleep 30;; esac`,
    );
    const clock = new FakeClock();
    const r = makeReader(fake, clock);
    const first = r.subscribe(recorder(unitsMatch(["kubelet.service"])).spec);
    const late = r.subscribe(recorder(KERNEL_MATCH, ["oom"]).spec);
    await first.open(clock.now());
    await clock.advance(2000); // the join wait passes: the child starts without the second subscriber
    await first.settled();
    await until(async () => (await readFile(argsLog, "utf8")).includes("--follow"), "the follower");
    await late.open(clock.now());
    assert.equal(late.status().joinedLate, true);
    await until(async () => (await readFile(argsLog, "utf8")).trim().split("\n").length === 3, "the restart");
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.doesNotMatch(calls[1] ?? "", /_TRANSPORT=kernel/);
    assert.match(calls[2] ?? "", /--after-cursor c-kubelet line .*_TRANSPORT=kernel$/);
  });

  it("restarts a dying journalctl with doubling backoff, resuming after the last cursor", async () => {
    const argsLog = join(dir, "args.log");
    const fake = await script(
      "journalctl-dies",
      `echo "$*" >> ${argsLog}\necho '{"MESSAGE":"line","__CURSOR":"c-'$$'","__REALTIME_TIMESTAMP":"1000000"}'\nexit 1`,
    );
    const clock = new FakeClock();
    const r = makeReader(fake, clock, { maxLookbackHours: 24 * 7 });
    const seen = recorder([]);
    const sub = r.subscribe({ ...seen.spec, match: [{ _SYSTEMD_UNIT: "kubelet.service" }] });
    await sub.open(0);
    await until(() => !r.status().running && r.status().starts === 1 && clock.pending() === 1, "the first exit");
    assert.match(r.status().lastError ?? "", /journalctl exited \(code 1\)/);
    await clock.advance(999);
    assert.equal(r.status().starts, 1, "no restart before the backoff");
    await clock.advance(1);
    await until(() => r.status().starts === 2 && clock.pending() === 1, "the second start and exit");
    await clock.advance(2000);
    await until(() => r.status().starts === 3 && clock.pending() === 1, "the third start after 2 s");
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.match(calls[1] ?? "", /--after-cursor c-\d+/, "resumes after the cursor printed before dying");
  });

  it("a missing journalctl is a status, not a crash", async () => {
    const r = makeReader(join(dir, "no-such-journalctl"));
    const sub = r.subscribe(recorder(KERNEL_MATCH, ["x"]).spec);
    await sub.open(0);
    await sub.settled();
    assert.match(sub.status().lastError ?? "", /not installed/);
  });

  it("no journal directory: settled at once, and says where it looked", async () => {
    reader = testJournalReader(join(dir, "empty-root"), new FakeClock(), { journalctl: "/bin/false" });
    const sub = reader.subscribe(recorder(KERNEL_MATCH, ["x"]).spec);
    await sub.open(0);
    await sub.settled();
    assert.equal(sub.status().starts, 0);
    assert.equal(sub.status().lastError, "no journal in /var/log/journal or /run/log/journal");
  });

  it("parses only lines with a needle, and sheds a flood over the per-second budget but keeps lines with a needle", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      i === 2500
        ? '{"MESSAGE":"PLEG is not healthy: pleg was last seen active 3m1s ago","_SYSTEMD_UNIT":"kubelet.service"}'
        : `{"MESSAGE":"noise ${i}","_SYSTEMD_UNIT":"kubelet.service"}`,
    );
    await writeFile(join(dir, "flood.jsonl"), lines.join("\n") + "\n");
    const fake = await script("journalctl-flood", `case "$*" in *--follow*) exec sleep 30;; *) cat ${join(dir, "flood.jsonl")};; esac`);
    const r = makeReader(fake, new FakeClock(), { maxLinesPerSecond: 1000 });
    const pleg = recorder(unitsMatch(["kubelet.service"]), ["pleg is not healthy"]);
    const sub = r.subscribe(pleg.spec);
    await sub.open(0);
    await sub.settled();
    assert.deepEqual(pleg.seen.entries.length, 1, "only the line that can match is parsed");
    assert.match(pleg.seen.entries[0]?.message ?? "", /PLEG is not healthy/);
    assert.equal(pleg.seen.skipped.unmatched, 1000, "within the budget: counted, not parsed");
    assert.equal(pleg.seen.skipped.dropped, 1999, "over the budget: shed");
  });

  it("counts a rate-limited line from its bytes past its share a second, and resumes after the cursor of the last one counted", async () => {
    const argsLog = join(dir, "tally-args.log");
    const kill = (i: number) => line({ MESSAGE: `Memory cgroup out of memory: Killed process ${1000 + i} (stress) total-vm:268380kB`, _TRANSPORT: "kernel" });
    const lines = [line({ MESSAGE: "Out of memory: Killed process 7 (java)", _TRANSPORT: "kernel" }), ...Array.from({ length: 40 }, (_, i) => kill(i))];
    await writeFile(join(dir, "tally.jsonl"), lines.join("\n") + "\n");
    const fake = await script(
      "journalctl-tally",
      `echo "$*" >> ${argsLog}\ncase "$*" in *--follow*) exec sleep 30;; *) cat ${join(dir, "tally.jsonl")};; esac`,
    );
    const kernel = recorder(KERNEL_MATCH, ["memory cgroup out of memory", "out of memory: kill"]);
    const counted = [0];
    const tally = { markers: ["Memory cgroup out of memory: Kill"], perSecond: 10, onTally: (i: number, n: number) => (counted[i] = (counted[i] ?? 0) + n) };
    const sub = makeReader(fake).subscribe({ ...kernel.spec, tally });
    await sub.open(0);
    await sub.settled();
    assert.equal(kernel.seen.entries.filter((e) => e.message.startsWith("Memory cgroup")).length, 10, "its share of the second is parsed");
    assert.deepEqual(counted, [30], "the rest counted from their bytes");
    assert.ok(
      kernel.seen.entries.some((e) => e.message.startsWith("Out of memory")),
      "a line without the marker is parsed",
    );
    await until(async () => (await readFile(argsLog, "utf8")).includes("--follow"), "the following journalctl");
    assert.match((await readFile(argsLog, "utf8")).trim().split("\n")[1] ?? "", /--after-cursor c-Memory cgroup out of memory: Killed process 1039 /);

    // A second subscriber without a tally on the same lines: it is given every one, and the first still counts its share.
    await reader?.close();
    const first = recorder(KERNEL_MATCH, ["memory cgroup out of memory"]);
    const all = recorder(KERNEL_MATCH, ["out of memory"]);
    counted[0] = 0;
    const r = makeReader(fake);
    const a = r.subscribe({ ...first.spec, tally });
    const b = r.subscribe(all.spec);
    await Promise.all([a.open(0), b.open(0)]);
    await a.settled();
    assert.equal(all.seen.entries.length, 41);
    assert.equal(first.seen.entries.filter((e) => e.message.startsWith("Memory cgroup")).length, 10);
    assert.deepEqual(counted, [30]);
  });

  it("following a trickle of small writes, reads what gathered in each batch whole: it keeps up", async () => {
    // 100 entries, each its own write 10 ms apart, as journalctl writes a kernel flood's lines as they come.
    const fake = await script(
      "journalctl-trickle",
      `case "$*" in *--follow*) i=0; while [ $i -lt 100 ]; do printf '{"MESSAGE":"Memory cgroup out of memory: Killed process %d (stress)","_TRANSPORT":"kernel","__CURSOR":"c%d"}\\n' $i $i; i=$((i+1)); sleep 0.01; done; exec sleep 30;; esac`,
    );
    const clock = new FakeClock();
    const kernel = recorder(KERNEL_MATCH, ["memory cgroup out of memory"]);
    const sub = makeReader(fake, clock).subscribe(kernel.spec);
    await sub.open(0);
    await sub.settled();
    let batches = 0;
    for (; batches < 6 && kernel.seen.entries.length < 100; batches++) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      await clock.advance(FOLLOW_BATCH_MS);
    }
    // Before, a held stream gave back one of its reads per batch: a handful of these entries, and a real flood fell behind by minutes.
    assert.equal(kernel.seen.entries.length, 100, `every entry within ${batches} batches`);
  });

  it("finds a needle in a line split across reads, and resumes after the cursor of a line it skipped", async () => {
    const argsLog = join(dir, "split-args.log");
    const fake = await script(
      "journalctl-split",
      [
        `echo "$*" >> ${argsLog}`,
        `case "$*" in *--follow*) exec sleep 30;; esac`,
        `printf '{"MESSAGE":"PLEG is not'`,
        "sleep 0.2",
        `printf ' healthy","_SYSTEMD_UNIT":"kubelet.service","__CURSOR":"c1"}\\n{"MESSAGE":"ordinary","_SYSTEMD_UNIT":"kubelet.service","__CURSOR":"c2"}\\n'`,
      ].join("\n"),
    );
    const r = makeReader(fake);
    const pleg = recorder(unitsMatch(["kubelet.service"]), ["pleg is not healthy"]);
    const sub = r.subscribe(pleg.spec);
    await sub.open(0);
    await sub.settled();
    await until(async () => (await readFile(argsLog, "utf8")).includes("--follow"), "the following journalctl");
    assert.deepEqual(
      pleg.seen.entries.map((e) => e.message),
      ["PLEG is not healthy"],
    );
    assert.equal(pleg.seen.skipped.unmatched, 1);
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.match(calls[1] ?? "", /--after-cursor c2/, "the skipped line's cursor");
  });

  it("the real journalctl on a real journal: kubelet's unit and the kernel's transport through one child", async () => {
    const realRoot = join(dir, "real");
    const now = Date.now();
    await writeJournal(realRoot, [
      unitEntry(now - 5000, "kubelet.service", 1902, 'E1124 12:00:00.000000 1902 kubelet.go:1870] "Skipping pod synchronization" err="PLEG is not healthy"'),
      kernelEntry(now - 4000, "Memory cgroup out of memory: Killed process 4242 (stress) total-vm:19076kB, anon-rss:16256kB", 3),
      unitEntry(now - 3000, "sshd.service", 77, "Accepted publickey for root"),
      kernelEntry(now - 2000, "EXT4-fs (loop7): mounted filesystem with ordered data mode"),
    ]);
    const clock = new FakeClock(now);
    reader = testJournalReader(realRoot, clock);
    const kubelet = recorder(unitsMatch(["kubelet.service"]), ["pleg is not healthy"]);
    const kernel = recorder(KERNEL_MATCH, ["out of memory"]);
    const a = reader.subscribe(kubelet.spec);
    const b = reader.subscribe(kernel.spec);
    await Promise.all([a.open(now - 60_000), b.open(now - 60_000)]);
    await a.settled();
    assert.equal(reader.status().caughtUp, true, reader.status().lastError);
    assert.deepEqual(
      kubelet.seen.entries.map((e) => e.fields._SYSTEMD_UNIT),
      ["kubelet.service"],
      "sshd is not read",
    );
    assert.deepEqual(
      kernel.seen.entries.map((e) => e.message),
      ["Memory cgroup out of memory: Killed process 4242 (stress) total-vm:19076kB, anon-rss:16256kB"],
    );
    assert.equal(kernel.seen.entries[0]?.fields._TRANSPORT, "kernel");
    assert.equal(kernel.seen.skipped.unmatched, 1, "the mount line is the kernel's, counted unparsed");
  });
});

describe("readControl: between batches the agent does not read", () => {
  it("stopped, what a child writes waits in the kernel, not in the stream's buffer; started, it all arrives", async () => {
    const child = spawn("sh", ["-c", "i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); sleep 0.02; done; exec sleep 30"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const stdout = child.stdout;
      const pipe = readControl(stdout);
      assert.ok(pipe, "the pipe's handle can stop and start reading (Node moved it if not: batching would cost a wake-up per write again)");
      let text = "";
      stdout.on("readable", () => {
        for (let chunk: Buffer | null; (chunk = stdout.read() as Buffer | null) !== null;) text += chunk.toString();
      });
      await until(() => text.includes("line 0\n"), "the first line");
      pipe.stop();
      const seen = text;
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(text, seen, "nothing read while stopped");
      assert.equal(stdout.readableLength, 0, "nor buffered by the stream: the kernel holds it");
      pipe.start();
      await until(() => text.includes("line 39\n"), "every line once started");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
