/**
 * The protobuf wire format, just enough to write and read a few small
 * messages by hand (the CRI calls in cri.ts). A full protobuf library costs
 * more memory than the whole agent may use; these messages need a varint, a
 * length-delimited field and a way to skip the rest.
 *
 * Reading is defensive: the bytes come from a socket we do not control, so
 * every length is bounds-checked and any malformation is a ProtoError naming
 * the problem, never a RangeError or an endless loop.
 */

export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtoError";
  }
}

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** One field as read from the wire: varints as numbers (exact up to 2^53), bytes as a view. */
export type WireField =
  | { field: number; wire: typeof WIRE.varint; value: number }
  | { field: number; wire: typeof WIRE.bytes; value: Uint8Array }
  | { field: number; wire: typeof WIRE.fixed32 | typeof WIRE.fixed64; value: number };

const utf8 = new TextDecoder("utf-8");

/** Reads a varint at `offset`; returns the value and the offset after it. */
function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const at = offset + i;
    if (at >= bytes.length) throw new ProtoError(`truncated varint at byte ${offset}`);
    const byte = bytes[at] as number;
    // Multiplication rather than shifts: shifts are 32-bit in JS, and byte sizes exceed that.
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, at + 1];
  }
  throw new ProtoError(`varint longer than 10 bytes at byte ${offset}`);
}

/** Splits one message into its fields, in wire order. Unknown fields are kept for the caller to ignore. */
export function readFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new ProtoError(`field number 0 at byte ${offset}`);
    offset = afterKey;
    switch (wire) {
      case WIRE.varint: {
        const [value, next] = readVarint(bytes, offset);
        fields.push({ field, wire, value });
        offset = next;
        break;
      }
      case WIRE.bytes: {
        const [length, next] = readVarint(bytes, offset);
        if (next + length > bytes.length) throw new ProtoError(`field ${field} claims ${length} bytes at byte ${next}, only ${bytes.length - next} remain`);
        fields.push({ field, wire, value: bytes.subarray(next, next + length) });
        offset = next + length;
        break;
      }
      case WIRE.fixed32:
      case WIRE.fixed64: {
        const size = wire === WIRE.fixed32 ? 4 : 8;
        if (offset + size > bytes.length) throw new ProtoError(`truncated fixed${size * 8} field ${field} at byte ${offset}`);
        const view = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
        fields.push({ field, wire, value: size === 4 ? view.getUint32(0, true) : Number(view.getBigUint64(0, true)) });
        offset += size;
        break;
      }
      default:
        // Groups are deprecated and absent from proto3; anything else is not protobuf.
        throw new ProtoError(`unsupported wire type ${wire} for field ${field} at byte ${offset}`);
    }
  }
  return fields;
}

function lastOf(fields: readonly WireField[], field: number): WireField | undefined {
  let found: WireField | undefined;
  for (const f of fields) if (f.field === field) found = f;
  return found;
}

function wrongWire(field: number, got: number, want: number): ProtoError {
  return new ProtoError(`field ${field} has wire type ${got}, expected ${want}`);
}

/** The last value of a length-delimited field (proto3: last one wins). */
export function lastBytes(fields: readonly WireField[], field: number): Uint8Array | undefined {
  const f = lastOf(fields, field);
  if (!f) return undefined;
  if (f.wire !== WIRE.bytes) throw wrongWire(field, f.wire, WIRE.bytes);
  return f.value;
}

/** The last value of a varint field. */
export function lastVarint(fields: readonly WireField[], field: number): number | undefined {
  const f = lastOf(fields, field);
  if (!f) return undefined;
  if (f.wire !== WIRE.varint) throw wrongWire(field, f.wire, WIRE.varint);
  return f.value;
}

/** Every value of a repeated message/bytes field. */
export function repeatedBytes(fields: readonly WireField[], field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire !== WIRE.bytes) throw wrongWire(field, f.wire, WIRE.bytes);
    out.push(f.value);
  }
  return out;
}

export function stringField(fields: readonly WireField[], field: number): string {
  const value = lastBytes(fields, field);
  return value ? utf8.decode(value) : "";
}

export function boolField(fields: readonly WireField[], field: number): boolean {
  return (lastVarint(fields, field) ?? 0) !== 0;
}

export function uintField(fields: readonly WireField[], field: number): number {
  return lastVarint(fields, field) ?? 0;
}

/** Builds a message field by field (requests here; replies in tests' fake servers). */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  /** Unsigned varints only, and only exact ones: a negative or fractional number would encode as garbage. */
  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf varint: ${value} is not a non-negative integer (at most 2^53 - 1)`);
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    this.parts.push(Uint8Array.from(out));
  }

  string(field: number, value: string): this {
    if (value === "") return this; // proto3 default: not written
    const bytes = new TextEncoder().encode(value);
    this.varint(field * 8 + WIRE.bytes);
    this.varint(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  bool(field: number, value: boolean): this {
    if (!value) return this;
    this.varint(field * 8 + WIRE.varint);
    this.varint(1);
    return this;
  }

  uint(field: number, value: number): this {
    if (value === 0) return this;
    this.varint(field * 8 + WIRE.varint);
    this.varint(value);
    return this;
  }

  /** A nested message (written even when empty: presence matters for messages). */
  message(field: number, bytes: Uint8Array): this {
    this.varint(field * 8 + WIRE.bytes);
    this.varint(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}
