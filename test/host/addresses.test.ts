/** The node's interface addresses from procfs, checked against iproute2 and inside a network namespace of our own. */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { canonicalIp, parseFibTrie, parseIfInet6, readHostAddresses } from "../../src/node/addresses.js";
import { RootedHost } from "../../src/node/host.js";
import { execTool } from "../support/tools.js";

describe("address parsers", () => {
  it("canonicalises addresses so different spellings compare equal", () => {
    assert.equal(canonicalIp("FE80:0:0:0::1"), "fe80::1");
    assert.equal(canonicalIp("[fd00::2]"), "fd00::2");
    assert.equal(canonicalIp(" 10.0.0.5 "), "10.0.0.5");
    for (const bad of ["", "10.0.0", "10.0.0.256", "eth0", "::g", "\0\0"]) assert.equal(canonicalIp(bad), undefined, bad);
  });

  it("read the same addresses from this machine's /proc as `ip -j addr` lists", async () => {
    const { stdout } = await execTool("ip", ["-j", "addr"]);
    const fromIp = new Set<string>();
    for (const link of JSON.parse(stdout) as Array<{ addr_info?: Array<{ family: string; local: string }> }>) {
      for (const info of link.addr_info ?? []) fromIp.add(canonicalIp(info.local) as string);
    }
    const host = await readHostAddresses(new RootedHost("/"));
    assert.deepEqual([...host.addresses].sort(), [...fromIp].sort());
  });

  it("ignore broadcast and network leaves, garbage and binary input", () => {
    const trie = [
      "Local:",
      "  +-- 10.0.0.0/24 2 0 2",
      "     |-- 10.0.0.0",
      "        /24 link UNICAST",
      "     |-- 10.0.0.7",
      "        /32 host LOCAL",
      "     |-- 10.0.0.255",
      "        /32 link BROADCAST",
    ].join("\n");
    assert.deepEqual(parseFibTrie(trie), ["10.0.0.7"]);
    assert.deepEqual(parseFibTrie("\0\xff binary \n|-- 999.1.1.1\n /32 host LOCAL"), []);
    assert.deepEqual(parseIfInet6("fd000000000000000000000000000002 04 40 00 82     eth0\nshort\nzz 1 2 3 4 5\n"), [{ address: "fd00::2", iface: "eth0" }]);
  });
});

describe("addresses inside a network namespace of our own", () => {
  const ns = `nd-addr-${process.pid}`;
  let holder: ChildProcess;
  let root: string;
  let bound = false;

  before(async () => {
    const steps = [
      ["netns", "add", ns],
      ["-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
      ["-n", ns, "addr", "add", "192.168.77.5/24", "dev", "v0"],
      ["-n", ns, "-6", "addr", "add", "fd77::5/64", "dev", "v0", "nodad"],
      ["-n", ns, "link", "set", "v0", "up"],
      ["-n", ns, "link", "set", "v1", "up"],
    ];
    for (const args of steps) {
      const result = await execTool("ip", args);
      assert.equal(result.code, 0, `ip ${args.join(" ")}: ${result.stderr}`);
    }
    // A process in the namespace; a host root whose /proc/net is that process's view.
    holder = spawn("ip", ["netns", "exec", ns, "sleep", "120"], {
      stdio: "ignore",
      env: { ...process.env, PATH: `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin` },
    });
    await new Promise((r) => setTimeout(r, 200));
    const { stdout } = await execTool("ip", ["netns", "pids", ns]);
    const pid = stdout.trim().split("\n")[0];
    assert.ok(pid, "a process runs in the namespace");
    root = await mkdtemp(join(tmpdir(), "node-doctor-netns-"));
    // Bound inside the root: a host root's links never lead out of it, /proc included.
    await mkdir(join(root, "proc/net"), { recursive: true });
    const bind = await execTool("mount", ["--bind", `/proc/${pid}/net`, join(root, "proc/net")]);
    assert.equal(bind.code, 0, `mount --bind: ${bind.stderr}`);
    bound = true;
  });

  after(async () => {
    if (bound) await execTool("umount", [join(root, "proc/net")]);
    holder?.kill("SIGKILL");
    await execTool("ip", ["netns", "del", ns]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("sees the namespace's addresses and not this machine's", async () => {
    const found = await readHostAddresses(new RootedHost(root));
    assert.ok(found.addresses.has("192.168.77.5"));
    assert.ok(found.addresses.has("fd77::5"));
    assert.equal(found.interfaces.get("fd77::5"), "v0");
    const machine = await readHostAddresses(new RootedHost("/"));
    for (const address of machine.addresses) if (!address.startsWith("127.") && address !== "::1") assert.ok(!found.addresses.has(address), address);
    assert.deepEqual(found.problems, []);
  });
});
