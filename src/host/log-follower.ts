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
 *   part is skipped and reported, so a flood costs bounded time and memory.
 *
 * The first poll starts near the end (initialBytes back), so the agent
 * starting on a node with a 2 GiB log reads minutes, not the whole history.
 */
import * as fs from "node:fs/promises";
import type { Host } from "../types.js";

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export type LineHandler = (line: string, truncated: boolean) => void;

/** Splits byte chunks into lines with a bounded carry-over for the partial last line. */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;
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
    return this.partialBytes;
  }

  push(chunk: Buffer, emit: LineHandler): number {
    let lines = 0;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.discarding) this.discarding = false;
      else {
        let piece = chunk.subarray(start, nl);
        if (this.partialBytes > 0) {
          const room = this.maxLineBytes - this.partialBytes;
          const truncated = piece.length > room;
          this.partial.push(truncated ? piece.subarray(0, room) : piece);
          piece = Buffer.concat(this.partial);
          this.reset();
          emit(trimCr(piece).toString("utf8"), truncated);
        } else if (piece.length > this.maxLineBytes) {
          emit(piece.subarray(0, this.maxLineBytes).toString("utf8"), true);
        } else emit(trimCr(piece).toString("utf8"), false);
        lines++;
      }
      start = nl + 1;
    }
    if (start < chunk.length && !this.discarding) {
      const rest = chunk.subarray(start);
      const room = this.maxLineBytes - this.partialBytes;
      if (rest.length >= room) {
        // Over-long line: emit its head now and drop the rest up to its newline.
        this.partial.push(rest.subarray(0, room));
        const head = Buffer.concat(this.partial);
        this.reset();
        emit(head.toString("utf8"), true);
        lines++;
        this.discarding = true;
      } else {
        // Copy: the caller reuses its read buffer.
        this.partial.push(Buffer.from(rest));
        this.partialBytes += rest.length;
      }
    }
    return lines;
  }

  /** Emits an unfinished last line (the file was rotated away: nothing more will follow it). */
  flush(emit: LineHandler): number {
    if (this.discarding || this.partialBytes === 0) {
      this.reset();
      this.discarding = false;
      return 0;
    }
    const line = Buffer.concat(this.partial);
    this.reset();
    emit(trimCr(line).toString("utf8"), false);
    return 1;
  }

  /** Drops what is held (after a truncation the old partial line is gone). */
  reset(): void {
    this.partial = [];
    this.partialBytes = 0;
  }
}

function trimCr(buffer: Buffer): Buffer {
  return buffer.length > 0 && buffer[buffer.length - 1] === 0x0d ? buffer.subarray(0, buffer.length - 1) : buffer;
}

export interface PollResult {
  /** The file exists and was read (or is being followed). */
  open: boolean;
  lines: number;
  bytesRead: number;
  /** Bytes skipped because more than the budget was waiting. */
  skippedBytes: number;
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
  async poll(emit: LineHandler, signal?: AbortSignal): Promise<PollResult> {
    const result: PollResult = { open: false, lines: 0, bytesRead: 0, skippedBytes: 0, rotated: false, truncated: false };
    let stat: { dev: number; ino: number; size: number } | undefined;
    let local: string | undefined;
    try {
      local = this.host.local(await this.host.resolve(this.nodePath));
      const st = await fs.stat(local);
      if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTFILE" });
      stat = { dev: st.dev, ino: st.ino, size: st.size };
    } catch (error) {
      const code = (error as { code?: string }).code;
      result.error = `${this.nodePath}: ${code === "ENOENT" ? "does not exist" : code === "ENOTFILE" ? "is not a regular file" : code === "EACCES" ? "permission denied" : String(error)}`;
    }

    let budget = this.budgetBytes;
    if (this.current && (!stat || stat.dev !== this.current.dev || stat.ino !== this.current.ino)) {
      // Rotated (renamed or replaced): finish the old file through our handle.
      budget -= await this.drain(this.current, emit, budget, result, signal);
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
        handle = await fs.open(local, "r");
      } catch (error) {
        result.error = `${this.nodePath}: cannot open (${(error as { code?: string }).code ?? String(error)})`;
        return result;
      }
      let st: Awaited<ReturnType<fs.FileHandle["stat"]>>;
      try {
        st = await handle.stat();
      } catch (error) {
        await handle.close().catch(() => undefined);
        result.error = `${this.nodePath}: cannot stat (${(error as { code?: string }).code ?? String(error)})`;
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
    await this.drain(this.current, emit, budget, result, signal);
    return result;
  }

  /** Reads from the file's offset to its current end, at most `budget` bytes (skipping the oldest beyond it). */
  private async drain(file: OpenFile, emit: LineHandler, budget: number, result: PollResult, signal?: AbortSignal): Promise<number> {
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
      signal?.throwIfAborted();
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
