/**
 * The kernel's ring buffer through /dev/kmsg (Documentation/ABI/testing/
 * dev-kmsg): one record per read(), `prio,seq,usec,flags[,…];message`
 * followed by ` KEY=value` continuation lines (SUBSYSTEM=, DEVICE=). The
 * fallback source of the kernel check for hosts without journald; opening
 * it needs CAP_SYSLOG where kernel.dmesg_restrict is 1.
 *
 * - A sequence number that jumps means records were overwritten before we
 *   read them (read() then fails once with EPIPE): the gap is counted, not
 *   hidden.
 * - The timestamp is microseconds since boot; the wall time is boot time
 *   (now − /proc/uptime) plus it, so the engine's look-back drops older
 *   records as stale and a restart does not re-read the whole buffer as new.
 * - Non-blocking: EAGAIN ends a poll; every poll stops at the engine's time
 *   budget and at `maxRecordsPerPoll`.
 */
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { CheckContext } from "../../types.js";
import type { PullResult, PullSource } from "./watch.js";
import { errorText } from "../../text/format.js";

export interface KmsgRecord {
  /** syslog priority 0 (emerg) … 7 (debug). */
  level: number;
  /** syslog facility (0 = kernel). */
  facility: number;
  seq: number;
  /** Microseconds since boot. */
  usec: number;
  /** `-` a whole record, `c` the start of a continued line, `+` a continuation (old kernels). */
  flags: string;
  message: string;
  /** The continuation lines' KEY=value pairs. */
  fields: Record<string, string>;
}

/** Largest record the kernel hands out (CONSOLE_EXT_LOG_MAX); a shorter buffer makes read() fail with EINVAL. */
export const KMSG_RECORD_BYTES = 8192;

const HEADER = /^(\d{1,10}),(\d{1,20}),(\d{1,20}),([^,;]*)(?:,[^;]*)?;/;

/** `\x0a`-style escapes the kernel writes for unprintable bytes, decoded (a NUL or control character stays escaped). */
function unescapeKmsg(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (whole, hex: string) => {
    const code = parseInt(hex, 16);
    return code >= 0x20 && code !== 0x7f ? String.fromCharCode(code) : whole;
  });
}

/** One record as read(); undefined when it is not one (the problem is the caller's to count). */
export function parseKmsgRecord(text: string): KmsgRecord | undefined {
  const header = HEADER.exec(text);
  if (!header) return undefined;
  const prefix = Number(header[1]);
  const seq = Number(header[2]);
  const usec = Number(header[3]);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(usec) || prefix > 0xffffff) return undefined;
  const body = text.slice(header[0].length).replace(/\n$/, "");
  const lines = body.split("\n");
  // Own properties only, on an object without a prototype: a `__proto__=` field is a field.
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of lines.slice(1)) {
    if (!line.startsWith(" ")) continue;
    const eq = line.indexOf("=");
    if (eq <= 1) continue;
    fields[line.slice(1, eq)] = unescapeKmsg(line.slice(eq + 1));
  }
  return { level: prefix & 7, facility: prefix >> 3, seq, usec, flags: header[4] ?? "-", message: unescapeKmsg(lines[0] ?? ""), fields };
}

/** Splits text holding many records (a saved `cat /dev/kmsg`) into records; lines that are not one are counted. */
export function parseKmsgDump(text: string): { records: KmsgRecord[]; malformed: number } {
  const records: KmsgRecord[] = [];
  let malformed = 0;
  let current: string | undefined;
  const flush = () => {
    if (current === undefined) return;
    const record = parseKmsgRecord(current);
    if (record) records.push(record);
    else malformed++;
    current = undefined;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith(" ") && current !== undefined) {
      current += `\n${line}`;
      continue;
    }
    flush();
    if (line !== "") current = line;
  }
  flush();
  return { records, malformed };
}

/** Counts records lost between sequence numbers. */
export class SequenceTracker {
  private last?: number;
  lost = 0;

  /** Records `seq`; returns how many were lost before it (0 for the first, or after a reboot's reset). */
  see(seq: number): number {
    const last = this.last;
    this.last = seq;
    if (last === undefined || seq <= last) return 0;
    const gap = seq - last - 1;
    this.lost += gap;
    return gap;
  }
}

export interface KmsgSourceOptions {
  /** Node path (default /dev/kmsg). */
  path?: string;
  maxRecordsPerPoll: number;
  /** Wall time of boot in ms, to stamp records; read from /proc/uptime when absent. */
  bootTimeMs?: () => Promise<number>;
}

/** /dev/kmsg as a pull source of the shared log engine. */
export class KmsgSource implements PullSource {
  readonly source = "kmsg";
  readonly label: string;
  private handle?: FileHandle;
  private readonly sequence = new SequenceTracker();
  private bootMs?: number;
  private readonly buffer = Buffer.allocUnsafe(KMSG_RECORD_BYTES);
  private reported = 0;
  /** Records that did not parse. */
  malformed = 0;

  constructor(
    private readonly host: CheckContext["host"],
    private readonly options: KmsgSourceOptions,
  ) {
    this.label = options.path ?? "/dev/kmsg";
  }

  /** Records lost to the ring buffer wrapping before they were read. */
  get lost(): number {
    return this.sequence.lost;
  }

  private async boot(nowMs: number): Promise<number> {
    if (this.bootMs !== undefined) return this.bootMs;
    if (this.options.bootTimeMs) this.bootMs = await this.options.bootTimeMs();
    else {
      const uptime = Number((await this.host.readText("/proc/uptime")).split(" ")[0]);
      if (!Number.isFinite(uptime)) throw new Error("/proc/uptime: not a number of seconds");
      this.bootMs = nowMs - uptime * 1000;
    }
    return this.bootMs;
  }

  async poll(feed: (text: string, timeMs?: number) => void, ctx: CheckContext, stop: () => boolean): Promise<PullResult> {
    try {
      // O_NONBLOCK: read() says EAGAIN at the end instead of waiting for the next record.
      this.handle ??= await open(this.host.local(this.label), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return { open: false };
      const why = code === "EACCES" || code === "EPERM" ? "permission denied (reading it needs CAP_SYSLOG where kernel.dmesg_restrict=1)" : String(error);
      return { open: false, problem: `${this.label}: ${why}` };
    }
    let boot: number;
    try {
      boot = await this.boot(ctx.clock.now());
    } catch (error) {
      return { open: false, problem: `${this.label}: cannot tell the records' times: ${errorText(error)}` };
    }
    let read = 0;
    let behind = 0;
    while (read < this.options.maxRecordsPerPoll) {
      if (stop()) {
        behind = 1;
        break;
      }
      let bytes: number;
      try {
        ({ bytesRead: bytes } = await this.handle.read(this.buffer, 0, KMSG_RECORD_BYTES, null));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") break;
        // Overwritten before we read it: the next record's sequence number tells how many.
        if (code === "EPIPE") continue;
        return { open: false, problem: `${this.label}: ${String(error)}` };
      }
      if (bytes === 0) break;
      read++;
      const record = parseKmsgRecord(this.buffer.toString("utf8", 0, bytes));
      if (!record) {
        this.malformed++;
        continue;
      }
      this.sequence.see(record.seq);
      // Continuation fragments of old kernels (flags `+`) carry only a tail: still matched on their own.
      feed(record.message, boot + record.usec / 1000);
    }
    if (read >= this.options.maxRecordsPerPoll) behind = 1;
    const skipped = this.sequence.lost - this.reported;
    this.reported = this.sequence.lost;
    return { open: true, skipped, behind };
  }

  async close(): Promise<void> {
    await this.handle?.close();
    delete this.handle;
  }
}
