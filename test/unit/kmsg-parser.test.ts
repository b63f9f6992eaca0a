/**
 * /dev/kmsg's record format (Documentation/ABI/testing/dev-kmsg):
 * `prio,seq,usec,flags[,…];message` plus ` KEY=value` continuation lines; a
 * sequence gap counted as lost records. Then hostile input: never a throw,
 * bounded time, fields only from continuation lines, no prototype pollution.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseKmsgDump, parseKmsgRecord, SequenceTracker } from "../../src/node/logs/kmsg.js";
import { nearly, RUNS, timed } from "../support/fuzz.js";

// As this machine's kernel printed them (6.18), and the ABI document's example of a device record.
const RECORDS = [
  "5,0,0,-;Linux version 6.18.44-fc-v857 (builder@sandboxing) #1 SMP PREEMPT_DYNAMIC",
  "4,2,0,-;[Firmware Bug]: TSC doesn't count with P0 frequency!",
  "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00",
  "6,339,5140900,-;NET: Registered protocol family 10",
  "3,1201,912345678,-;EXT4-fs error (device loop3): trigger_test_error:1234: comm bash: node-doctor test",
  '30,1202,912345679,c;audit: type=1400 audit(1700000000.000:2): apparmor="STATUS"',
];

describe("/dev/kmsg records", () => {
  it("parses priority, facility, sequence, time, flags, message and KEY=value fields", () => {
    const record = parseKmsgRecord(RECORDS[2] as string);
    assert.deepEqual(
      { ...record, fields: { ...record?.fields } },
      {
        level: 7,
        facility: 0,
        seq: 160,
        usec: 424069,
        flags: "-",
        message: "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
        fields: { SUBSYSTEM: "acpi", DEVICE: "+acpi:PNP0A03:00" },
      },
    );
    const user = parseKmsgRecord(RECORDS[5] as string);
    assert.equal(user?.facility, 3);
    assert.equal(user?.level, 6);
    assert.equal(user?.flags, "c");
  });

  it("decodes the kernel's \\xNN escapes of printable bytes, keeps control characters escaped", () => {
    assert.equal(parseKmsgRecord("6,1,2,-;a\\x20b\\x0ac\\x5cd")?.message, "a b\\x0ac\\d");
  });

  it("takes future fields after the flags (`6,1,2,-,caller=T1;…`)", () => {
    assert.equal(parseKmsgRecord("6,1,2,-,caller=T1;hello")?.message, "hello");
  });

  it("refuses what is not a record", () => {
    for (const text of ["", "hello", "6,1;x", "a,b,c,-;x", "6,1,2", "99999999999,1,2,-;x", `6,${"9".repeat(25)},2,-;x`]) {
      assert.equal(parseKmsgRecord(text), undefined, JSON.stringify(text));
    }
  });

  it("splits a saved dump into records, continuation lines attached, junk counted", () => {
    const { records, malformed } = parseKmsgDump([...RECORDS, "not a record"].join("\n"));
    assert.equal(records.length, RECORDS.length);
    assert.equal(malformed, 1);
    assert.equal(records[2]?.fields["SUBSYSTEM"], "acpi");
  });

  it("counts sequence gaps as lost records, and not a reset (reboot) or a repeat", () => {
    const seq = new SequenceTracker();
    assert.deepEqual([seq.see(10), seq.see(11), seq.see(15), seq.see(16), seq.see(3), seq.see(4)], [0, 0, 3, 0, 0, 0]);
    assert.equal(seq.lost, 3);
  });
});

describe("hostile /dev/kmsg input", () => {
  const JUNK = ["\0", ";", ",", "\n", "\n ", " __proto__=x", " constructor=y", "\\x00", "\\xff", "-", "c", "+", "999999999999999999999", "=", "\xff"];

  it("never throws, is linear, and returns well-formed records", () => {
    fc.assert(
      fc.property(fc.oneof(nearly(RECORDS, JUNK), fc.string({ maxLength: 400 })), (text) => {
        const record = timed(() => parseKmsgRecord(text));
        if (record) {
          assert.ok(Number.isSafeInteger(record.seq) && record.seq >= 0);
          assert.ok(Number.isSafeInteger(record.usec) && record.usec >= 0);
          assert.ok(record.level >= 0 && record.level <= 7);
          assert.ok(!record.message.includes("\n"));
          for (const value of Object.values(record.fields)) assert.equal(typeof value, "string");
        }
        const dump = timed(() => parseKmsgDump(text));
        assert.ok(dump.records.length + dump.malformed <= text.split("\n").length);
      }),
      RUNS,
    );
    assert.equal(({} as Record<string, unknown>)["x"], undefined, "Object.prototype untouched");
  });

  it("a `__proto__=` field is a field, never the record's prototype", () => {
    const record = parseKmsgRecord("6,1,2,-;m\n __proto__=polluted\n constructor=c");
    assert.equal(record?.fields["__proto__"], "polluted");
    assert.equal(Object.getPrototypeOf(record?.fields), null);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  it("a long run of digits or separators stays fast", () => {
    timed(() => parseKmsgRecord("6,".repeat(50_000)));
    timed(() => parseKmsgRecord(`6,1,2,-;${"\\x41".repeat(50_000)}`));
    timed(() => parseKmsgDump(" a=b\n".repeat(50_000)));
  });
});
