/**
 * Real journals for tests: entries in journald's export format turned into
 * journal files by systemd-journal-remote (Debian's package), which
 * `journalctl --directory` reads as it reads a node's; and the agent's
 * journal reader over a fixture root, with the configured defaults.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { journalSettings } from "../../src/config/config.js";
import { RootedHost } from "../../src/node/host.js";
import { JournalReader, journalReaderOptions } from "../../src/node/journal.js";
import type { Clock } from "../../src/types.js";
import { silentLog } from "./check-context.js";

export const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
export const MACHINE_ID = "5c0f6a2b9d8e4f7a8b1c2d3e4f5a6b7c";
export const BOOT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/** The agent's journal reader on a fixture root; `settings` as under `journal:` in the config. */
export function testJournalReader(root: string, clock: Clock, settings: Record<string, unknown> = {}): JournalReader {
  return new JournalReader({ host: new RootedHost(root), clock, log: silentLog, ...journalReaderOptions(journalSettings.parse(settings, "journal")) });
}

export interface ExportEntry {
  atMs: number;
  message: string;
  /** More fields: _SYSTEMD_UNIT, _PID, _TRANSPORT, SYSLOG_IDENTIFIER, PRIORITY … */
  fields: Record<string, string | number>;
}

/** A unit's line, as journald stores it. */
export function unitEntry(atMs: number, unit: string, pid: number, message: string): ExportEntry {
  return { atMs, message, fields: { _SYSTEMD_UNIT: unit, SYSLOG_IDENTIFIER: unit.replace(/\.service$/, ""), _PID: pid, PRIORITY: 6 } };
}

/** A kernel message, as journald stores what it reads from /dev/kmsg. */
export function kernelEntry(atMs: number, message: string, priority = 6): ExportEntry {
  return { atMs, message, fields: { _TRANSPORT: "kernel", SYSLOG_IDENTIFIER: "kernel", SYSLOG_FACILITY: 0, PRIORITY: priority } };
}

/** Writes `entries` into <root>/var/log/journal/<machine>/<file> with systemd-journal-remote. */
export async function writeJournal(root: string, entries: readonly ExportEntry[], file = "system.journal"): Promise<void> {
  assert.ok(existsSync(JOURNAL_REMOTE), `${JOURNAL_REMOTE} is missing: run scripts/test-setup.sh (it installs Debian's systemd-journal-remote)`);
  const dir = join(root, "var/log/journal", MACHINE_ID);
  await mkdir(dir, { recursive: true });
  const exportText = entries
    .map((e, i) =>
      [
        `__REALTIME_TIMESTAMP=${Math.round(e.atMs * 1000)}`,
        `__MONOTONIC_TIMESTAMP=${1_000_000 + i}`,
        `_BOOT_ID=${BOOT_ID}`,
        ...Object.entries(e.fields).map(([k, v]) => `${k}=${v}`),
        `MESSAGE=${e.message}`,
        "",
      ].join("\n"),
    )
    .join("\n");
  const input = join(root, `${file}.export`);
  await writeFile(input, exportText + "\n");
  execFileSync(JOURNAL_REMOTE, ["-o", join(dir, file), input], { stdio: "pipe" });
}
