/**
 * The network check's readers on a flannel node's /proc and /sys as the
 * kernel wrote them (test/fixtures/network-flannel-node, see its SOURCES.md):
 * routes of both families, links with their state, and the CNI file's bridge.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readRoutes, readSysctl, usesBridge } from "../../src/checks/network/gather.js";
import { cniPluginLinks } from "../../src/node/cni-links.js";
import { RootedHost } from "../../src/node/host.js";
import { describeLinkState, isRunning, listLinks, readLink } from "../../src/node/links.js";
import { defaultRoutes, describeRoute, parseIpv6Route, parseRoute, routeFor } from "../../src/node/routes.js";
import { FIXTURES } from "../support/fixture-root.js";

const ROOT = join(FIXTURES, "network-flannel-node");
const host = new RootedHost(ROOT);
const signal = AbortSignal.timeout(10_000);

describe("routes from /proc/net/route and /proc/net/ipv6_route", () => {
  it("reads the IPv4 main table: the default route, connected, onlink, blackhole and unreachable routes", async () => {
    const { routes, errors } = parseRoute(await readFile(join(ROOT, "proc/net/route"), "utf8"));
    assert.deepEqual(errors, []);
    assert.deepEqual(routes.map(describeRoute), [
      "default via 10.0.2.2 dev eth0",
      "10.0.2.0/24 dev eth0",
      "10.244.0.0/24 via 10.244.0.0 dev flannel.1",
      "10.244.1.0/24 dev cni0",
      "192.0.2.0/24 (blackhole)",
      "198.51.100.0/24 (unreachable)",
    ]);
    assert.equal(routes[0]?.metric, 100);
  });

  it("reads the IPv6 tables: the default via fd00:10::1, and leaves the kernel's null entry without a device", async () => {
    const { routes, errors } = parseIpv6Route(await readFile(join(ROOT, "proc/net/ipv6_route"), "utf8"));
    assert.deepEqual(errors, []);
    const defaults = defaultRoutes(routes, "ipv6");
    assert.deepEqual(defaults.map(describeRoute), ["default via fd00:10::1 dev eth0"]);
    assert.ok(
      routes.some((r) => r.prefixLength === 0 && r.iface === undefined),
      "the null entry (unreachable ::/0 on lo) is not a default route",
    );
  });

  it("picks the route the kernel would: longest prefix, and a blackhole is an answer too", async () => {
    const { routes } = await readRoutes(host, signal);
    assert.equal(routeFor(routes, "10.244.0.7")?.iface, "flannel.1");
    assert.equal(routeFor(routes, "10.96.0.1")?.prefixLength, 0);
    assert.equal(routeFor(routes, "192.0.2.9")?.iface, undefined);
    assert.equal(routeFor(routes, "fd00:10::99")?.iface, "eth0");
  });

  it("names the line of anything that is not a route", () => {
    const { routes, errors } = parseRoute("Iface\tDestination\nbroken line\neth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
    assert.equal(routes.length, 1);
    assert.deepEqual(errors, ["line 2: not a route (expected Iface Destination Gateway Flags RefCnt Use Metric Mask …)"]);
    assert.match(parseIpv6Route("zz 40\n").errors[0] ?? "", /^line 1: not a route/);
  });
});

describe("links from /sys/class/net", () => {
  it("lists the interfaces and reads state, carrier, flaps, MTU and device type", async () => {
    assert.deepEqual(await listLinks(host), ["cni0", "eth0", "eth1", "flannel.1", "lo"]);
    const flannel = await readLink(host, "flannel.1");
    assert.deepEqual({ devtype: flannel.devtype, mtu: flannel.mtu, problems: flannel.problems }, { devtype: "vxlan", mtu: 1450, problems: [] });
    const eth0 = await readLink(host, "eth0");
    assert.equal(isRunning(eth0), true);
    assert.equal(eth0.carrierChanges, 2);
    const eth1 = await readLink(host, "eth1");
    assert.deepEqual([eth1.operstate, eth1.carrier, isRunning(eth1), describeLinkState(eth1)], ["down", false, false, "no carrier, operstate down"]);
    const lo = await readLink(host, "lo");
    assert.deepEqual([lo.operstate, isRunning(lo)], ["unknown", true]);
    const bridge = await readLink(host, "cni0");
    assert.equal(bridge.devtype, "bridge");
  });

  it("refuses names that are not interface names, and a missing interface is an error naming it", async () => {
    await assert.rejects(readLink(host, "../../etc"), /is not an interface name/);
    await assert.rejects(readLink(host, "eth9"), /\/sys\/class\/net\/eth9: does not exist/);
  });
});

describe("sysctls and the CNI file", () => {
  it("reads the forwarding sysctls, and a missing one is 'missing'", async () => {
    assert.equal(await readSysctl(host, "net.ipv4.ip_forward", signal), 1);
    assert.equal(await readSysctl(new RootedHost(join(ROOT, "etc")), "net.ipv4.ip_forward", signal), "missing");
  });

  it("flannel's conflist puts pods on the bridge cni0 (flannel delegates to the bridge plugin)", async () => {
    const plugins = cniPluginLinks(await readFile(join(ROOT, "etc/cni/net.d/10-flannel.conflist"), "utf8"));
    assert.deepEqual(plugins, [{ type: "flannel", bridge: "cni0" }, { type: "portmap" }]);
    assert.equal(usesBridge({ file: "10-flannel.conflist", plugins }), true);
    assert.deepEqual(cniPluginLinks('{"type":"bridge","bridge":"br-pods","mtu":1400}'), [{ type: "bridge", bridge: "br-pods", mtu: 1400 }]);
    assert.deepEqual(cniPluginLinks("not json"), []);
  });
});
