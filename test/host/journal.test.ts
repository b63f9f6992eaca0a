/**
 * The journalctl supervisor: restarts with backoff on the injected clock,
 * resumes after the last cursor, sheds a flood without losing needle lines.
 * A small shell script stands in for journalctl where a real one cannot
 * misbehave on demand (the real one is exercised in test/checks/kubelet-logs.test.ts).
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JournalFollower, journalctlArgs, type JournalOptions } from "../../src/node/journal.js";
import type { JournalEntry } from "../../src/node/log-line.js";
import { silentLog } from "../support/check-context.js";
import { FakeClock } from "../support/fake-clock.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "node-doctor-journal-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A follower that keeps only PLEG lines, recording what it parses, counts and sheds. */
function plegFollower(journalctl: string, options: Partial<JournalOptions> = {}) {
  const seen = { entries: [] as string[], dropped: 0, uninteresting: 0 };
  const journal = new JournalFollower({
    directory: "/j",
    units: ["kubelet.service"],
    sinceMs: 0,
    clock: new FakeClock(),
    log: silentLog,
    onEntry: (e) => seen.entries.push(e.message),
    onDropped: (n) => (seen.dropped += n),
    onUninteresting: () => seen.uninteresting++,
    journalctl,
    keep: ["pleg is not healthy"],
    ...options,
  });
  return { journal, seen };
}

describe("journalctlArgs", () => {
  it("reads the lookback first, then follows after the cursor", () => {
    assert.deepEqual(journalctlArgs({ directory: "/host/var/log/journal", units: ["kubelet.service"], follow: false, sinceMs: 1_700_000_000_999 }), [
      "--directory",
      "/host/var/log/journal",
      "--output",
      "json",
      "--no-pager",
      "--quiet",
      "--unit",
      "kubelet.service",
      "--since",
      "@1700000000",
      "--output-fields",
      "MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,_PID,PRIORITY",
    ]);
    const follow = journalctlArgs({ directory: "/j", units: ["a", "b"], follow: true, sinceMs: 0, afterCursor: "s=1;i=2" });
    assert.ok(follow.includes("--follow"));
    assert.deepEqual(follow.slice(follow.indexOf("--after-cursor"), follow.indexOf("--after-cursor") + 2), ["--after-cursor", "s=1;i=2"]);
    assert.ok(!follow.includes("--since"));
  });
});

describe("JournalFollower", () => {
  it("restarts a dying journalctl with doubling backoff, resuming after the last cursor", async () => {
    const argsLog = join(dir, "args.log");
    const fake = await script(
      "journalctl-dies",
      `echo "$*" >> ${argsLog}\necho '{"MESSAGE":"line","__CURSOR":"c-'$$'","__REALTIME_TIMESTAMP":"1000000"}'\nexit 1`,
    );
    const clock = new FakeClock();
    const entries: JournalEntry[] = [];
    const journal = new JournalFollower({
      directory: "/j",
      units: ["kubelet.service"],
      sinceMs: 0,
      clock,
      log: silentLog,
      onEntry: (e) => entries.push(e),
      journalctl: fake,
      backoffInitialMs: 1000,
      backoffMaxMs: 4000,
    });
    journal.start();
    await until(() => !journal.status().running && journal.status().starts === 1 && clock.pending() === 1, "the first exit");
    assert.match(journal.status().lastError ?? "", /journalctl exited \(code 1\)/);
    await clock.advance(999);
    assert.equal(journal.status().starts, 1, "no restart before the backoff");
    await clock.advance(1);
    await until(() => journal.status().starts === 2 && clock.pending() === 1, "the second start and exit");
    await clock.advance(2000);
    await until(() => journal.status().starts === 3 && clock.pending() === 1, "the third start after 2 s");
    await clock.advance(4000);
    await until(() => journal.status().starts === 4 && clock.pending() === 1, "the fourth start after 4 s (the cap)");
    await clock.advance(4000);
    await until(() => journal.status().starts === 5, "capped at 4 s");
    await journal.close();
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.match(calls[0] ?? "", /--since @0/);
    assert.match(calls[1] ?? "", /--after-cursor c-\d+/, "resumes after the cursor printed before dying");
    assert.ok(entries.length >= 4, "each run's line was read");
  });

  it("a missing journalctl is a status, not a crash", async () => {
    const clock = new FakeClock();
    const journal = new JournalFollower({
      directory: "/j",
      units: ["kubelet.service"],
      sinceMs: 0,
      clock,
      log: silentLog,
      onEntry: () => undefined,
      journalctl: join(dir, "no-such-journalctl"),
    });
    journal.start();
    await until(() => journal.status().lastError !== undefined, "the spawn error");
    assert.match(journal.status().lastError ?? "", /not installed/);
    await journal.close();
  });

  it("catches up, then follows; close() ends the child", async () => {
    const fake = await script(
      "journalctl-ok",
      `case "$*" in *--follow*) echo '{"MESSAGE":"followed","__CURSOR":"c2"}'; exec sleep 30;; *) echo '{"MESSAGE":"backlog","__CURSOR":"c1"}';; esac`,
    );
    const clock = new FakeClock();
    const entries: string[] = [];
    const journal = new JournalFollower({
      directory: "/j",
      units: ["kubelet.service"],
      sinceMs: 0,
      clock,
      log: silentLog,
      onEntry: (e) => entries.push(e.message),
      journalctl: fake,
    });
    journal.start();
    await journal.caughtUp();
    await until(() => entries.length === 2, "the followed line");
    assert.deepEqual(entries, ["backlog", "followed"]);
    assert.equal(journal.status().running, true);
    await journal.close();
    assert.equal(journal.status().running, false);
  });

  it("parses only lines with a needle, and sheds a flood over the per-second budget but keeps lines with a needle", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      i === 2500 ? '{"MESSAGE":"PLEG is not healthy: pleg was last seen active 3m1s ago"}' : `{"MESSAGE":"noise ${i}"}`,
    );
    await writeFile(join(dir, "flood.jsonl"), lines.join("\n") + "\n");
    const fake = await script("journalctl-flood", `case "$*" in *--follow*) exec sleep 30;; *) cat ${join(dir, "flood.jsonl")};; esac`);
    const { journal, seen } = plegFollower(fake, { maxLinesPerSecond: 1000 });
    journal.start();
    await journal.caughtUp();
    await journal.close();
    assert.deepEqual(seen.entries.length, 1, "only the line that can match is parsed");
    assert.match(seen.entries[0] ?? "", /PLEG is not healthy/);
    assert.equal(seen.uninteresting, 1000, "within the budget: counted, not parsed");
    assert.equal(seen.dropped, 1999, "over the budget: shed");
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
        `printf ' healthy","__CURSOR":"c1"}\\n{"MESSAGE":"ordinary","__CURSOR":"c2"}\\n'`,
      ].join("\n"),
    );
    const { journal, seen } = plegFollower(fake);
    journal.start();
    await journal.caughtUp();
    await until(async () => (await readFile(argsLog, "utf8")).includes("--follow"), "the following journalctl");
    await journal.close();
    assert.deepEqual(seen.entries, ["PLEG is not healthy"]);
    assert.equal(seen.uninteresting, 1);
    const calls = (await readFile(argsLog, "utf8")).trim().split("\n");
    assert.match(calls[1] ?? "", /--after-cursor c2/, "the skipped line's cursor");
  });
});
