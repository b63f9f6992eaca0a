/**
 * The journal line reader: the fields JSON.parse would give, for the shapes
 * journalctl prints, and undefined for whatever JSON.parse would reject as
 * an object.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readJsonFields } from "../../src/node/json-fields.js";

const KEYS = ["MESSAGE", "_PID", "__CURSOR"] as const;

describe("readJsonFields", () => {
  it("reads plain, escaped, array and null values, and skips the rest", () => {
    const line = '{"__REALTIME_TIMESTAMP":"1795609510224535","MESSAGE":"say \\"hi\\"\\n\\u00e9","OTHER":{"a":["}",1]},"_PID":null,"__CURSOR":"s=1;i=2"}';
    assert.deepEqual(readJsonFields(line, KEYS), ['say "hi"\né', null, "s=1;i=2"]);
    assert.deepEqual(readJsonFields('{"MESSAGE":[104,105]}', KEYS), [[104, 105], undefined, undefined]);
  });

  it("agrees with JSON.parse on journalctl's output, spaces and repeated keys included", () => {
    for (const line of [
      '{"MESSAGE":"a","_PID":"1","__CURSOR":"c"}',
      ' { "MESSAGE" : "a\\\\" , "_PID" : "7" } ',
      '{"MESSAGE":"first","MESSAGE":"last"}',
      '{"_PID":"1"}',
      "{}",
      '{"MESSAGE":"x","N":12.5e3,"T":true,"F":false}',
    ]) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(
        readJsonFields(line, KEYS),
        KEYS.map((k) => parsed[k]),
        line,
      );
    }
  });

  it("a line that is not a whole JSON object is undefined", () => {
    for (const line of [
      "",
      "null",
      "[1,2]",
      "{",
      '{"MESSAGE":"no end}',
      '{"MESSAGE":"a"',
      '{"MESSAGE":"a"} trailing',
      '{"MESSAGE" "a"}',
      '{MESSAGE:"a"}',
      '{"MESSAGE":"bad \\x escape"}',
      '{"A":[1,2}',
      "garbage",
    ]) {
      assert.equal(readJsonFields(line, KEYS), undefined, line);
    }
  });
});
