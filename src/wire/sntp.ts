/**
 * A small SNTP client (RFC 4330) over node:dgram: one request, one reply, the
 * clock offset and round-trip delay from the four timestamps.
 *
 * The request's transmit timestamp is a random nonce, not our time (as chrony
 * does): a reply must echo it as its originate timestamp, so stale or spoofed
 * replies are ignored, and our own send time never leaves the host. Send and
 * receive times are taken on the monotonic clock and anchored to the wall
 * clock once, so a wall-clock step during the query cannot skew the result.
 */
import { createSocket, type Socket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { constants as fsConstants } from "node:fs";
import { open } from "node:fs/promises";
import { isIP } from "node:net";
import { randomBytes } from "node:crypto";
import type { Clock } from "../types.js";

export const NTP_PORT = 123;
const PACKET_BYTES = 48;
/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
const NTP_UNIX_DELTA_SECONDS = 2_208_988_800;
const TWO_POW_32 = 4_294_967_296;

export type SntpFailure =
  | "timeout" // no reply in time
  | "unreachable" // refused (ICMP port unreachable) or no route
  | "dns" // the name did not resolve
  | "malformed" // a reply that is not an NTP server reply
  | "kiss-of-death" // stratum 0: the server tells us to go away or slow down
  | "unsynchronized"; // the server says its own clock is not synchronised

/** The query could not produce an offset; the message says why, naming the server. */
export class SntpError extends Error {
  constructor(
    readonly kind: SntpFailure,
    message: string,
    /** The four-letter kiss code (RATE, DENY, RSTR …) for kiss-of-death. */
    readonly kissCode?: string,
  ) {
    super(message);
    this.name = "SntpError";
  }
}

export interface NtpReply {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds. */
  precision: number;
  rootDelayMs: number;
  rootDispersionMs: number;
  /** Four ASCII characters at stratum 0/1, an IPv4 address (or hash) otherwise. */
  refId: string;
  originate: Buffer;
  receiveMs: number;
  transmitMs: number;
}

export interface SntpResult {
  /** As given: a name or an address. */
  server: string;
  address: string;
  port: number;
  /** Reference minus local: positive when the local clock is behind. */
  offsetMs: number;
  /** Round-trip delay, excluding the server's processing time. */
  delayMs: number;
  /**
   * Half-width of the interval the true offset lies in: half the round trip,
   * the server's own distance from its reference (root delay / 2 + root
   * dispersion), and our timestamping resolution.
   */
  uncertaintyMs: number;
  stratum: number;
  refId: string;
}

/** NTP 64-bit timestamp → Unix ms. Era chosen as RFC 4330 §3 says: MSB set → 1968–2036, clear → 2036–2104. */
export function ntpTimestampToUnixMs(buffer: Buffer, offset: number): number {
  const seconds = buffer.readUInt32BE(offset);
  const fraction = buffer.readUInt32BE(offset + 4);
  const eraSeconds = seconds >= 0x80000000 ? seconds : seconds + TWO_POW_32;
  return (eraSeconds - NTP_UNIX_DELTA_SECONDS) * 1000 + (fraction / TWO_POW_32) * 1000;
}

/** Unix ms → NTP 64-bit timestamp (for tests and fake servers). */
export function unixMsToNtpTimestamp(ms: number): Buffer {
  const out = Buffer.alloc(8);
  const total = ms / 1000 + NTP_UNIX_DELTA_SECONDS;
  const seconds = Math.floor(total);
  out.writeUInt32BE(seconds % TWO_POW_32, 0);
  out.writeUInt32BE(Math.min(TWO_POW_32 - 1, Math.round((total - seconds) * TWO_POW_32)), 4);
  return out;
}

/** A client request: LI 0, version 4, mode 3, the nonce as transmit timestamp. */
export function encodeRequest(nonce: Buffer): Buffer {
  const packet = Buffer.alloc(PACKET_BYTES);
  packet[0] = (0 << 6) | (4 << 3) | 3;
  nonce.copy(packet, 40, 0, 8);
  return packet;
}

function printableRefId(raw: Buffer, stratum: number): string {
  if (stratum <= 1)
    return raw
      .toString("latin1")
      .replace(/[^\x20-\x7e]/g, "")
      .trim();
  return [...raw].join(".");
}

/** Parses a reply; throws SntpError("malformed") naming what is wrong. Does not judge it (see validateReply). */
export function parseReply(packet: Buffer): NtpReply {
  if (packet.length < PACKET_BYTES) throw new SntpError("malformed", `reply of ${packet.length} bytes is too short for NTP (at least ${PACKET_BYTES})`);
  const first = packet.readUInt8(0);
  const stratum = packet.readUInt8(1);
  return {
    leap: first >> 6,
    version: (first >> 3) & 0x7,
    mode: first & 0x7,
    stratum,
    precision: packet.readInt8(3),
    rootDelayMs: (packet.readInt32BE(4) / 65536) * 1000,
    rootDispersionMs: (packet.readUInt32BE(8) / 65536) * 1000,
    refId: printableRefId(packet.subarray(12, 16), stratum),
    originate: Buffer.from(packet.subarray(24, 32)),
    receiveMs: ntpTimestampToUnixMs(packet, 32),
    transmitMs: ntpTimestampToUnixMs(packet, 40),
  };
}

/**
 * RFC 4330 §5's sanity checks, in the order that gives the clearest message.
 * Returns false for a reply to some other request (ignore it and keep
 * waiting); throws SntpError for a reply that answers ours but is unusable.
 */
export function validateReply(reply: NtpReply, packet: Buffer, nonce: Buffer): boolean {
  if (reply.mode !== 4) throw new SntpError("malformed", `reply has NTP mode ${reply.mode}, expected 4 (server)`);
  if (reply.version < 1 || reply.version > 4) throw new SntpError("malformed", `reply has NTP version ${reply.version}`);
  if (!reply.originate.equals(nonce)) return false;
  if (reply.stratum === 0) {
    const code = packet
      .subarray(12, 16)
      .toString("latin1")
      .replace(/[^\x20-\x7e]/g, "?");
    throw new SntpError("kiss-of-death", `kiss-o'-death ${code}${KISS_MEANING[code] ? ` (${KISS_MEANING[code]})` : ""}`, code);
  }
  if (reply.leap === 3 || reply.stratum >= 16)
    throw new SntpError("unsynchronized", `server reports its own clock unsynchronised (leap ${reply.leap}, stratum ${reply.stratum})`);
  if (packet.readUInt32BE(40) === 0 && packet.readUInt32BE(44) === 0) throw new SntpError("malformed", "reply has no transmit timestamp");
  if (reply.rootDelayMs < 0 || reply.rootDispersionMs > 16_000)
    throw new SntpError("malformed", `reply has an implausible root delay ${reply.rootDelayMs} ms or dispersion ${reply.rootDispersionMs} ms`);
  return true;
}

const KISS_MEANING: Record<string, string> = {
  DENY: "the server denies access",
  RSTR: "the server restricts access",
  RATE: "the server asks us to query less often",
};

/**
 * RFC 4330 §5: t1 client send, t2 server receive, t3 server send, t4 client
 * receive. offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2).
 */
export function offsetAndDelay(t1: number, t2: number, t3: number, t4: number): { offsetMs: number; delayMs: number } {
  return { offsetMs: (t2 - t1 + (t3 - t4)) / 2, delayMs: t4 - t1 - (t3 - t2) };
}

/**
 * Wall time anchored to the monotonic clock with better than the wall clock's
 * millisecond resolution: spin (at most ~2 ms) until the wall clock ticks,
 * then the wall time at that edge is exact. Falls back to a plain reading
 * (1 ms resolution) when no tick was seen.
 */
export function anchorWallClock(clock: Clock): { wallMs: number; monotonicMs: number; resolutionMs: number } {
  const first = clock.now();
  let before = clock.monotonic();
  const spinUntil = performance.now() + 2;
  while (performance.now() < spinUntil) {
    const a = clock.monotonic();
    const wall = clock.now();
    const b = clock.monotonic();
    // The tick fell after the previous read began and before this one ended.
    if (wall !== first) return { wallMs: wall, monotonicMs: (before + b) / 2, resolutionMs: Math.max(0.001, (b - before) / 2) };
    before = a;
  }
  // No tick seen: a clock that does not tick by itself, or the process was
  // descheduled past the spin. Pair a fresh reading with the monotonic
  // readings around it; `first` is milliseconds stale by now.
  const a = clock.monotonic();
  const wall = clock.now();
  const b = clock.monotonic();
  return { wallMs: wall, monotonicMs: (a + b) / 2, resolutionMs: 1 + (b - a) / 2 };
}

export interface SntpTarget {
  host: string;
  port?: number;
}

export function describeTarget(target: SntpTarget): string {
  const port = target.port ?? NTP_PORT;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return port === NTP_PORT ? host : `${host}:${port}`;
}

/** /etc/hosts is a few lines; a larger file is not a hosts file the agent reads. */
const MAX_HOSTS_BYTES = 1024 * 1024;

/**
 * The addresses /etc/hosts gives `host` (IPv4 first), as the system
 * resolver's "files" source would: the agent's own hosts file (a pod's is
 * kubelet's; with hostNetwork, the node's). No file, or not a regular file,
 * is no answer.
 */
export async function hostsFileLookup(host: string, file = "/etc/hosts"): Promise<{ address: string; family: 4 | 6 } | undefined> {
  let text: string;
  try {
    // O_NONBLOCK: a FIFO in its place opens at once (and is no regular file) instead of hanging the lookup.
    const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (!st.isFile() || st.size > MAX_HOSTS_BYTES) return undefined;
      text = (await handle.readFile({ encoding: "utf8" })).slice(0, MAX_HOSTS_BYTES);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  const wanted = host.toLowerCase();
  let v6: string | undefined;
  for (const line of text.split("\n")) {
    const [address, ...names] = (line.split("#")[0] ?? "").trim().split(/\s+/);
    if (!address || !names.some((name) => name.toLowerCase() === wanted)) continue;
    const family = isIP(address);
    if (family === 4) return { address, family: 4 };
    if (family === 6) v6 ??= address;
  }
  return v6 ? { address: v6, family: 6 } : undefined;
}

/**
 * Name → address: /etc/hosts first, as the system resolver does, then DNS
 * through c-ares (dns.Resolver), not getaddrinfo: a hung DNS server must not
 * hold libuv's small thread pool, which every file read of every check
 * shares. Address literals skip both.
 */
async function resolve(
  host: string,
  signal: AbortSignal,
  timeoutMs: number,
  dnsServers?: string[],
  hostsFile?: string,
): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(host);
  if (literal) return { address: host, family: literal === 6 ? 6 : 4 };
  const listed = await hostsFileLookup(host, hostsFile);
  if (listed) return listed;
  const resolver = new Resolver({ timeout: Math.max(100, Math.round(timeoutMs / 2)), tries: 1 });
  if (dnsServers) resolver.setServers(dnsServers);
  const onAbort = () => resolver.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const v4 = await raceAbort(resolver.resolve4(host), signal).catch((error: unknown) => error);
    if (Array.isArray(v4) && typeof v4[0] === "string") return { address: v4[0], family: 4 };
    const v6 = await raceAbort(resolver.resolve6(host), signal).catch((error: unknown) => error);
    if (Array.isArray(v6) && typeof v6[0] === "string") return { address: v6[0], family: 6 };
    signal.throwIfAborted();
    const why = v4 instanceof Error ? ((v4 as NodeJS.ErrnoException).code ?? v4.message) : "no address";
    throw new SntpError("dns", `${host} does not resolve (${why}; not in ${hostsFile ?? "/etc/hosts"} either)`);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Asks one server for the time. Resolves with the offset, or rejects with an
 * SntpError naming the server and the problem, within `timeoutMs` (or sooner
 * when `signal` aborts, with the signal's reason).
 */
export async function querySntp(
  target: SntpTarget,
  options: {
    clock: Clock;
    timeoutMs: number;
    signal?: AbortSignal;
    /** Instead of the system's DNS servers and /etc/hosts (tests). */
    dnsServers?: string[];
    hostsFile?: string;
  },
): Promise<SntpResult> {
  const name = describeTarget(target);
  const port = target.port ?? NTP_PORT;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const timeoutMessage = () => new SntpError("timeout", `no reply from NTP server ${name} within ${options.timeoutMs} ms`);

  let resolved: { address: string; family: 4 | 6 };
  try {
    resolved = await resolve(target.host, signal, options.timeoutMs, options.dnsServers, options.hostsFile);
  } catch (error) {
    if (deadline.aborted && !options.signal?.aborted) throw timeoutMessage();
    if (error instanceof SntpError) throw new SntpError(error.kind, `NTP server ${error.message}`);
    throw error;
  }
  const { address, family } = resolved;
  const where = address === target.host ? name : `${name} (${address}:${port})`;

  const socket: Socket = createSocket({ type: family === 6 ? "udp6" : "udp4" });
  const nonce = randomBytes(8);
  try {
    return await new Promise<SntpResult>((resolvePromise, reject) => {
      let sentMonotonic = 0;
      let anchor: ReturnType<typeof anchorWallClock> | undefined;
      const fail = (error: unknown) => reject(error);
      const onAbort = () => fail(deadline.aborted && !options.signal?.aborted ? timeoutMessage() : signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("close", () => signal.removeEventListener("abort", onAbort));

      socket.on("error", (error: NodeJS.ErrnoException) => {
        const why =
          error.code === "ECONNREFUSED"
            ? "connection refused (nothing listens on that UDP port)"
            : error.code === "ENETUNREACH" || error.code === "EHOSTUNREACH"
              ? "no route to it"
              : error.message;
        fail(new SntpError("unreachable", `NTP server ${where} is unreachable: ${why}`));
      });
      socket.on("message", (packet: Buffer) => {
        const receivedMonotonic = options.clock.monotonic();
        try {
          const reply = parseReply(packet);
          if (!validateReply(reply, packet, nonce)) return; // not an answer to this request
          if (!anchor) return;
          const t1 = anchor.wallMs + (sentMonotonic - anchor.monotonicMs);
          const t4 = anchor.wallMs + (receivedMonotonic - anchor.monotonicMs);
          const { offsetMs, delayMs } = offsetAndDelay(t1, reply.receiveMs, reply.transmitMs, t4);
          const roundTrip = Math.max(0, delayMs);
          resolvePromise({
            server: target.host,
            address,
            port,
            offsetMs,
            delayMs,
            uncertaintyMs:
              roundTrip / 2 + Math.abs(reply.rootDelayMs) / 2 + reply.rootDispersionMs + anchor.resolutionMs + 2 ** Math.min(0, reply.precision) * 1000,
            stratum: reply.stratum,
            refId: reply.refId,
          });
        } catch (error) {
          fail(error instanceof SntpError ? new SntpError(error.kind, `NTP server ${where} sent an unusable reply: ${error.message}`, error.kissCode) : error);
        }
      });
      // Connected, so only the server's own datagrams arrive and ICMP errors surface as "error".
      socket.connect(port, address, () => {
        anchor = anchorWallClock(options.clock);
        sentMonotonic = options.clock.monotonic();
        socket.send(encodeRequest(nonce), (error) => {
          if (error) fail(new SntpError("unreachable", `could not send to NTP server ${where}: ${error.message}`));
        });
      });
    });
  } finally {
    try {
      socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Up to `samples` queries in a row to one server, all within `timeoutMs`;
 * returns the one with the smallest uncertainty (the sample least disturbed
 * by scheduling and queueing, as NTP's clock filter prefers the least delay).
 * A kiss-o'-death or an unsynchronised server ends the round at once.
 */
export async function querySntpBest(
  target: SntpTarget,
  options: { clock: Clock; timeoutMs: number; samples: number; signal?: AbortSignal },
): Promise<SntpResult> {
  const deadline = performance.now() + options.timeoutMs;
  let best: SntpResult | undefined;
  let lastError: unknown;
  let attempts = 0;
  const samples = Math.max(1, options.samples);
  for (let i = 0; i < samples; i++) {
    const remaining = deadline - performance.now();
    if (remaining <= 1) break;
    // Leave time for another try after a lost packet, except on the last.
    const attemptMs = i === samples - 1 ? remaining : remaining / 2;
    attempts++;
    try {
      const result = await querySntp(target, { clock: options.clock, timeoutMs: Math.round(attemptMs), ...(options.signal ? { signal: options.signal } : {}) });
      if (!best || result.uncertaintyMs < best.uncertaintyMs) best = result;
    } catch (error) {
      options.signal?.throwIfAborted();
      if (error instanceof SntpError && (error.kind === "kiss-of-death" || error.kind === "unsynchronized")) throw error;
      lastError = error;
      if (best || !(error instanceof SntpError) || error.kind !== "timeout") break; // a lost packet is worth another try; a refusal is not
    }
  }
  if (best) return best;
  if (lastError instanceof SntpError && lastError.kind === "timeout") {
    throw new SntpError(
      "timeout",
      `no reply from NTP server ${describeTarget(target)} within ${options.timeoutMs} ms (${attempts} ${attempts === 1 ? "query" : "queries"} sent)`,
    );
  }
  throw lastError ?? new SntpError("timeout", `no reply from ${describeTarget(target)} within ${options.timeoutMs} ms`);
}
