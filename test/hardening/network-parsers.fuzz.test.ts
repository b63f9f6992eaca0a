/**
 * Hostile input for the network check's parsers: /proc/net/route,
 * /proc/net/ipv6_route, /sys/class/net/<if> files and the CNI file's bridge
 * and MTU. Property: never a throw, a bounded time per input, routes that
 * hold only well-formed values, and every rejected line named by number.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cniPluginLinks } from "../../src/node/cni-links.js";
import { isInterfaceName, parseOperstate, parseSysfsHex, parseSysfsNumber, parseUeventDevtype } from "../../src/node/links.js";
import { defaultRoutes, parseIpv6Route, parseRoute, routeFor, type RouteTable } from "../../src/node/routes.js";
import { FIXTURES } from "../support/fixture-root.js";
import { nearly, RUNS, timed } from "../support/fuzz.js";

const ROOT = join(FIXTURES, "network-flannel-node");
const ROUTE_LINES = readFileSync(join(ROOT, "proc/net/route"), "utf8").split("\n");
const IPV6_LINES = readFileSync(join(ROOT, "proc/net/ipv6_route"), "utf8").split("\n");
const JUNK = ["\0", "\t", " ", "\n", "FFFFFFFF", "*", "00000000", "zz", "\xff", "-1", "0x", "::", "1".repeat(40)];

function wellFormed(table: RouteTable): void {
  for (const r of table.routes) {
    assert.ok(isIP(r.destination) !== 0, `destination ${r.destination}`);
    assert.ok(r.gateway === undefined || isIP(r.gateway) !== 0, `gateway ${r.gateway}`);
    assert.ok(Number.isInteger(r.prefixLength) && r.prefixLength >= 0 && r.prefixLength <= (r.family === "ipv4" ? 32 : 128));
    assert.ok(Number.isFinite(r.metric) && Number.isFinite(r.flags));
  }
  for (const e of table.errors) assert.match(e, /^line \d+: /);
}

describe("hostile input to the network parsers", () => {
  it("/proc/net/route: routes with valid addresses and prefixes, or numbered line errors", () => {
    fc.assert(
      fc.property(fc.oneof(nearly(ROUTE_LINES, JUNK), fc.string()), fc.ipV4(), (text, ip) => {
        const table = timed(() => parseRoute(text));
        wellFormed(table);
        timed(() => routeFor(table.routes, ip));
        defaultRoutes(table.routes, "ipv4");
      }),
      RUNS,
    );
  });

  it("/proc/net/ipv6_route: the same", () => {
    fc.assert(
      fc.property(fc.oneof(nearly(IPV6_LINES, JUNK), fc.string()), fc.ipV6(), (text, ip) => {
        const table = timed(() => parseIpv6Route(text));
        wellFormed(table);
        timed(() => routeFor(table.routes, ip));
      }),
      RUNS,
    );
  });

  it("/sys/class/net files: a value of the right kind or undefined", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom("up\n", "1500\n", "0x1003\n", "DEVTYPE=vxlan\n", "99999999999999999999\n", "DEVTYPE=\n")), (text) => {
        const op = parseOperstate(text);
        assert.ok(op === undefined || typeof op === "string");
        for (const n of [parseSysfsNumber(text), parseSysfsHex(text)]) assert.ok(n === undefined || (Number.isSafeInteger(n) && n >= 0));
        const devtype = parseUeventDevtype(text);
        assert.ok(devtype === undefined || /^[A-Za-z0-9_.-]+$/.test(devtype));
        isInterfaceName(text);
      }),
      RUNS,
    );
  });

  it("CNI files: plugins with a string type, a bridge name and an MTU in range; nothing reaches Object.prototype", () => {
    const flannel = readFileSync(join(ROOT, "etc/cni/net.d/10-flannel.conflist"), "utf8");
    const json = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v));
    const shaped = fc
      .record({
        type: fc.oneof(fc.string(), fc.constantFrom("bridge", "flannel", "__proto__")),
        bridge: fc.anything(),
        mtu: fc.anything(),
        delegate: fc.anything(),
      })
      .map((p) => JSON.stringify({ plugins: [p, { __proto__: { polluted: 1 } }] }));
    fc.assert(
      fc.property(fc.oneof(json, shaped, nearly(flannel.split("\n"), ["{", "}", '"mtu": -1', '"__proto__": {"x": 1}'])), (text) => {
        for (const p of timed(() => cniPluginLinks(text))) {
          assert.equal(typeof p.type, "string");
          assert.ok(p.bridge === undefined || typeof p.bridge === "string");
          assert.ok(p.mtu === undefined || (Number.isInteger(p.mtu) && p.mtu > 0 && p.mtu <= 65535));
        }
        assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
      }),
      RUNS,
    );
  });
});
