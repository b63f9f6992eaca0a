/**
 * Follows a plain log file (kubelet's --log-file, <--log-dir>/kubelet.INFO,
 * /var/log/kubelet.log) across rotation and truncation, without watching:
 * each poll reads what was appended since the last one.
 *
 * - Rotation (the path now names another inode, e.g. logrotate's rename or
 *   klog's new file behind the kubelet.INFO symlink): the old file is read to
 *   its end through the handle still open, then the new one from its start.
 * - Truncation (copytruncate: same inode, smaller than our offset): read
 *   again from the start.
 * - A partial last line waits for its newline; a line longer than
 *   maxLineBytes is cut there (reported truncated) and the rest skipped.
 * - Bounded: at most budgetBytes per poll; when more is waiting the oldest
 *   part is skipped and reported, so a flood costs bounded memory. A poll
 *   also stops between reads when its `stop()` says so (the reader's time
 *   budget), leaving the rest for the next poll, so it costs bounded time.
 *
 * The first poll starts near the end (initialBytes back), so the agent
 * starting on a node with a 2 GiB log reads minutes, not the whole history.
 */
import { constants as fsConstants } from "node:fs";
import * as fs from "node:fs/promises";
import type { Host } from "../types.js";
import { describeFsError } from "./host.js";

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export type LineHandler = (line: string, truncated: boolean) => void;

/**
 * One line as bytes: `bytes[start, end)`, without its newline (or CR).
 * `bytes` is only valid during the call: a reader that wants the line
 * later copies it. Handing out ranges lets a reader skip a line without
 * making a string of it (the journal reader in a flood).
 */
export type LineRangeHandler = (bytes: Buffer, start: number, end: number, truncated: boolean) => void;

/** A range handler that hands each line on as a string. */
export function asText(emit: LineHandler): LineRangeHandler {
  return (bytes, start, end, truncated) => emit(bytes.toString("utf8", start, end), truncated);
}

/**
 * Splits byte chunks into lines with a bounded carry-over for the partial
 * last line. The carry-over lives in one buffer of its own, reused and grown
 * up to maxLineBytes: a pooled Buffer per partial line would pin an 8 KiB
 * pool slab that outlives young collections, and in a flood those slabs
 * piled up to megabytes before a full GC freed them (measured with
 * heaptrack: docs/performance.md).
 */
export class LineSplitter {
  private carry?: Buffer;
  private carryBytes = 0;
  /** Inside an over-long line whose head was already emitted: drop until the newline. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
    /** Start by skipping up to the first newline (we began mid-line). */
    skipFirst = false,
  ) {
    this.discarding = skipFirst;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.carryBytes;
  }

  push(chunk: Buffer, emit: LineRangeHandler): number {
    let lines = 0;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.discarding) this.discarding = false;
      else {
        if (this.carryBytes > 0) {
          const room = this.maxLineBytes - this.carryBytes;
          const truncated = nl - start > room;
          this.emitCarry(chunk, start, truncated ? start + room : nl, truncated, emit);
        } else if (nl - start > this.maxLineBytes) {
          emit(chunk, start, start + this.maxLineBytes, true);
        } else emit(chunk, start, withoutCr(chunk, start, nl), false);
        lines++;
      }
      start = nl + 1;
    }
    if (start < chunk.length && !this.discarding) {
      const room = this.maxLineBytes - this.carryBytes;
      if (chunk.length - start >= room) {
        // Over-long line: emit its head now and drop the rest up to its newline.
        this.emitCarry(chunk, start, start + room, true, emit);
        lines++;
        this.discarding = true;
      } else this.append(chunk, start, chunk.length); // copied: the caller reuses its read buffer
    }
    return lines;
  }

  /** Emits an unfinished last line (the file was rotated away: nothing more will follow it). */
  flush(emit: LineRangeHandler): number {
    if (this.discarding || this.carryBytes === 0) {
      this.reset();
      this.discarding = false;
      return 0;
    }
    this.emitCarry(undefined, 0, 0, false, emit);
    return 1;
  }

  /** Drops what is held (after a truncation the old partial line is gone). */
  reset(): void {
    this.carryBytes = 0;
  }

  /** Emits the carried bytes followed by `bytes[start, end)` as one line, and empties the carry. */
  private emitCarry(bytes: Buffer | undefined, start: number, end: number, truncated: boolean, emit: LineRangeHandler): void {
    if (bytes) this.append(bytes, start, end);
    const carry = this.carry as Buffer;
    const length = this.carryBytes;
    this.carryBytes = 0;
    emit(carry, 0, withoutCr(carry, 0, length), truncated);
  }

  private append(bytes: Buffer, start: number, end: number): void {
    const needed = this.carryBytes + end - start;
    if (!this.carry || this.carry.length < needed) {
      const grown = Buffer.allocUnsafeSlow(Math.min(this.maxLineBytes, Math.max(needed, 1024, (this.carry?.length ?? 0) * 2)));
      this.carry?.copy(grown, 0, 0, this.carryBytes);
      this.carry = grown;
    }
    bytes.copy(this.carry, this.carryBytes, start, end);
    this.carryBytes = needed;
  }
}

/** The end of a line without its trailing CR. */
function withoutCr(bytes: Buffer, start: number, end: number): number {
  return end > start && bytes[end - 1] === 0x0d ? end - 1 : end;
}

export interface PollResult {
  /** The file exists and was read (or is being followed). */
  open: boolean;
  lines: number;
  bytesRead: number;
  /** Bytes skipped because more than the budget was waiting. */
  skippedBytes: number;
  /** Bytes left unread because `stop()` ended the poll; the next poll reads them. */
  behindBytes: number;
  rotated: boolean;
  truncated: boolean;
  /** Why it could not be read, naming the path. */
  error?: string;
}

export interface FollowerOptions {
  maxLineBytes?: number;
  /** How far back from the end the first poll starts. */
  initialBytes?: number;
  /** Most bytes read per poll. */
  budgetBytes?: number;
}

interface OpenFile {
  handle: fs.FileHandle;
  dev: number;
  ino: number;
  offset: number;
  splitter: LineSplitter;
}

const CHUNK_BYTES = 64 * 1024;

export class FileFollower {
  private current?: OpenFile;
  private everOpened = false;
  private readonly maxLineBytes: number;
  private readonly initialBytes: number;
  private readonly budgetBytes: number;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);

  constructor(
    private readonly host: Host,
    /** The node path, e.g. /var/log/kubelet.log. */
    readonly nodePath: string,
    options: FollowerOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.initialBytes = options.initialBytes ?? 8 * 1024 * 1024;
    this.budgetBytes = options.budgetBytes ?? 64 * 1024 * 1024;
  }

  /** Reads what was appended since the last poll, calling `emit` per line. */
  async poll(onLine: LineHandler, options: { signal?: AbortSignal; stop?: () => boolean } = {}): Promise<PollResult> {
    const emit = asText(onLine);
    const result: PollResult = { open: false, lines: 0, bytesRead: 0, skippedBytes: 0, behindBytes: 0, rotated: false, truncated: false };
    let stat: { dev: number; ino: number; size: number } | undefined;
    let local: string | undefined;
    try {
      local = this.host.local(await this.host.resolve(this.nodePath));
      const st = await fs.stat(local);
      if (!st.isFile()) throw Object.assign(new Error("is not a regular file"), { code: "ENOTFILE" });
      stat = { dev: st.dev, ino: st.ino, size: st.size };
    } catch (error) {
      result.error = describeFsError(this.nodePath, error).message;
    }

    let budget = this.budgetBytes;
    if (this.current && (!stat || stat.dev !== this.current.dev || stat.ino !== this.current.ino)) {
      // Rotated (renamed or replaced): finish the old file through our handle.
      budget -= await this.drain(this.current, emit, budget, result, options);
      if (result.behindBytes > 0) {
        // Out of time inside the old file: the next poll finishes it.
        result.open = true;
        return result;
      }
      result.lines += this.current.splitter.flush(emit);
      await this.current.handle.close().catch(() => undefined);
      delete this.current;
      result.rotated = true;
    }
    if (!stat || !local) {
      result.open = false;
      return result;
    }
    if (!this.current) {
      let handle: fs.FileHandle;
      try {
        // O_NONBLOCK and a regular file by the handle too: a FIFO swapped in after the stat above would otherwise block the open.
        handle = await fs.open(local, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      } catch (error) {
        result.error = `${this.nodePath}: cannot open (${(error as { code?: string }).code ?? String(error)})`;
        return result;
      }
      let st: Awaited<ReturnType<fs.FileHandle["stat"]>>;
      try {
        st = await handle.stat();
        if (!st.isFile()) throw Object.assign(new Error("is not a regular file"), { code: "ENOTFILE" });
      } catch (error) {
        await handle.close().catch(() => undefined);
        result.error = describeFsError(this.nodePath, error).message;
        return result;
      }
      // First time: start near the end. After a rotation: the new file from its start.
      const offset = this.everOpened ? 0 : Math.max(0, st.size - this.initialBytes);
      this.current = { handle, dev: st.dev, ino: st.ino, offset, splitter: new LineSplitter(this.maxLineBytes, offset > 0) };
      this.everOpened = true;
    }
    result.open = true;
    const size = (await this.current.handle.stat()).size;
    if (size < this.current.offset) {
      this.current.offset = 0;
      this.current.splitter.reset();
      result.truncated = true;
    }
    await this.drain(this.current, emit, budget, result, options);
    return result;
  }

  /**
   * Reads from the file's offset to its current end, at most `budget` bytes
   * (skipping the oldest beyond it), stopping between reads when `stop()`
   * says so (after at least one read, so every poll makes progress).
   */
  private async drain(
    file: OpenFile,
    emit: LineRangeHandler,
    budget: number,
    result: PollResult,
    options: { signal?: AbortSignal; stop?: () => boolean },
  ): Promise<number> {
    const size = (await file.handle.stat()).size;
    const waiting = size - file.offset;
    if (waiting <= 0) return 0;
    if (waiting > budget) {
      const skip = waiting - Math.max(0, budget);
      result.skippedBytes += skip;
      file.offset += skip;
      file.splitter.reset();
      file.splitter = new LineSplitter(this.maxLineBytes, true);
    }
    let read = 0;
    while (file.offset < size) {
      options.signal?.throwIfAborted();
      if (read > 0 && options.stop?.()) {
        result.behindBytes += size - file.offset;
        break;
      }
      const { bytesRead } = await file.handle.read(this.buffer, 0, Math.min(CHUNK_BYTES, size - file.offset), file.offset);
      if (bytesRead === 0) break;
      file.offset += bytesRead;
      read += bytesRead;
      result.lines += file.splitter.push(this.buffer.subarray(0, bytesRead), emit);
    }
    result.bytesRead += read;
    return read;
  }

  async close(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    delete this.current;
  }
}
