/**
 * UDP servers on loopback that answer NTP requests however a test needs:
 * well-formed with a chosen skew, garbage, kiss-o'-death, or not at all.
 * For the misbehaviour a real chronyd cannot be made to show.
 */
import { createSocket, type Socket } from "node:dgram";
import { unixMsToNtpTimestamp } from "../../src/wire/sntp.js";

export interface FakeNtpServer {
  port: number;
  /** Requests received so far. */
  requests: number;
  close(): Promise<void>;
}

/** Answers each request with whatever `reply` returns (nothing for undefined). */
export async function fakeNtpServer(reply: (request: Buffer) => Buffer | undefined): Promise<FakeNtpServer> {
  const socket: Socket = createSocket("udp4");
  const state: FakeNtpServer = { port: 0, requests: 0, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  socket.on("message", (msg, rinfo) => {
    state.requests++;
    const out = reply(msg);
    if (out) socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  // A test that fails before close() must not keep its file's process (and the whole run) alive.
  socket.unref();
  state.port = socket.address().port;
  return state;
}

/** A well-formed stratum-1 reply to `request` from a clock `skewMs` off; `patch` edits it before sending. */
export function ntpReply(request: Buffer, skewMs: number, patch: (packet: Buffer) => void = () => undefined): Buffer {
  const packet = Buffer.alloc(48);
  packet[0] = (0 << 6) | (4 << 3) | 4;
  packet[1] = 1;
  packet.writeInt8(-20, 3);
  packet.write("GPS\0", 12, "latin1");
  request.copy(packet, 24, 40, 48); // originate = the client's transmit
  unixMsToNtpTimestamp(Date.now() + skewMs).copy(packet, 32);
  unixMsToNtpTimestamp(Date.now() + skewMs).copy(packet, 40);
  patch(packet);
  return packet;
}

/** Patches a reply into a kiss-o'-death with `code` (DENY, RSTR, RATE). */
export function kissOfDeath(code: string): (packet: Buffer) => void {
  return (packet) => {
    packet[1] = 0;
    packet.write(code.padEnd(4, "\0").slice(0, 4), 12, "latin1");
  };
}
