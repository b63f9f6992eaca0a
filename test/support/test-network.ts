/**
 * A node and its network in two network namespaces, for the network check:
 *
 *   node ns  lo; eth-like veth 198.51.100.2/24, default via .1; a CNI bridge;
 *            ip_forward=1; nft DNAT for the Service VIPs (10.96.0.1:443 → the
 *            endpoint, 10.96.0.10:53 → the DNS server) and an empty filter
 *            chain before it where a test drops the VIP; kube-proxy's
 *            /proxyMode on 127.0.0.1:10249; a relay on 127.0.0.1:<api port>
 *            to the fake API server outside (through a unix socket).
 *   peer ns  the veth's other end 198.51.100.1/24, a DNS server for
 *            kubernetes.default.svc.cluster.local and a TCP listener on :6443
 *            standing for the API server's endpoint.
 *
 * Names carry the test's pid (several engineers run tests at once).
 * runCheck() runs the built CLI as the node would: inside the node namespace,
 * with its own pid namespace and /proc (so pid 1 there is in this network
 * namespace), and the namespace's /proc and /sys bind-mounted into a copy of
 * test/fixtures/network-netns used as the host root. cleanup() deletes the
 * namespaces (and with them every link, route and rule), stops the servers and
 * removes the files; an exit handler does the same should a test die first.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { BUNDLE, NODE, assertBuilt, type CliResult } from "./cli.js";
import { fixtureRoot, type FixtureRoot } from "./fixture-root.js";
import type { FakeApiServer } from "./fake-apiserver.js";
import { requireTool } from "./tools.js";

const HELPER = new URL("./netns-helper.mjs", import.meta.url).pathname;
const PATH = `${process.env["PATH"] ?? ""}:/usr/sbin:/sbin`;

export const NODE_IP = "198.51.100.2";
export const PEER_IP = "198.51.100.1";
export const KUBERNETES_VIP = "10.96.0.1";
export const DNS_VIP = "10.96.0.10";
export const SERVICE_DOMAIN = "kubernetes.default.svc.cluster.local";

export interface TestNetwork {
  nodeNs: string;
  peerNs: string;
  /** The node's veth (its "eth0") and its peer. */
  uplink: string;
  peerLink: string;
  bridge: string;
  root: string;
  /** Runs a command in the node (or peer) namespace; throws with its stderr when it fails. */
  inNode(...args: string[]): string;
  inPeer(...args: string[]): string;
  setDns(mode: "answer" | "nxdomain" | "silent"): Promise<void>;
  /** Waits (at most 5 s) until the uplink's operstate is up again: the kernel brings carrier up asynchronously. */
  uplinkUp(): Promise<void>;
  /** `node-doctor check --only network --output json` as the node; extra flags appended. */
  runCheck(extra?: string[]): Promise<CliResult>;
  cleanup(): Promise<void>;
}

const NFT_RULES = `
table ip nd_svc {
  chain vip {
    type filter hook output priority -300; policy accept;
  }
  chain services {
    type nat hook output priority -100; policy accept;
    ip daddr ${KUBERNETES_VIP} tcp dport 443 dnat to ${PEER_IP}:6443
    ip daddr ${DNS_VIP} udp dport 53 dnat to ${PEER_IP}:53
    ip daddr ${DNS_VIP} tcp dport 53 dnat to ${PEER_IP}:53
  }
}
`;

function run(command: string, args: string[], input?: string): string {
  try {
    return execFileSync(command, args, { env: { PATH }, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input !== undefined ? { input } : {}) });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || String(error)}`);
  }
}

interface Helper {
  child: ChildProcess;
  send(line: string): Promise<void>;
}

/** Starts netns-helper.mjs in a namespace and waits for "ready". */
function startHelper(ns: string, args: string[]): Promise<Helper> {
  const child = spawn("ip", ["netns", "exec", ns, NODE, HELPER, ...args], { env: { PATH }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters: Array<{ line: string; resolve: () => void }> = [];
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      if (out.includes(`${w.line}\n`)) {
        out = out.replace(`${w.line}\n`, "");
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const helper: Helper = {
    child,
    send(line) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`netns-helper in ${ns} did not acknowledge ${JSON.stringify(line)}: ${err}`)), 5000);
        waiters.push({ line, resolve: () => (clearTimeout(timer), resolve()) });
        child.stdin?.write(`${line}\n`);
      });
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`netns-helper in ${ns} was not ready within 10 s: ${err}`)), 10_000);
    waiters.push({ line: "ready", resolve: () => (clearTimeout(timer), resolve(helper)) });
    child.once("exit", (code) => reject(new Error(`netns-helper in ${ns} exited with ${code}: ${err}`)));
  });
}

/** Builds the two namespaces with the node's files, talking to `api` (seed it with the kubernetes Service: VIP KUBERNETES_VIP, endpoint PEER_IP). */
export async function createTestNetwork(api: FakeApiServer, kubeconfig: string, nodeName: string): Promise<TestNetwork> {
  assertBuilt();
  for (const tool of ["ip", "nft", "unshare", "mount"]) requireTool(tool);
  const pid = process.pid;
  const nodeNs = `nd-node-${pid}`;
  const peerNs = `nd-peer-${pid}`;
  const uplink = `ndv${pid}`;
  const peerLink = `ndp${pid}`;
  const bridge = `ndb${pid}`;
  const helpers: Helper[] = [];
  let relay: Server | undefined;
  let fixture: FixtureRoot | undefined;
  let removed = false;
  const removeNamespaces = () => {
    if (removed) return;
    removed = true;
    for (const ns of [nodeNs, peerNs]) {
      try {
        execFileSync("ip", ["netns", "del", ns], { env: { PATH }, stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", removeNamespaces);

  const cleanup = async () => {
    for (const h of helpers) {
      h.child.stdin?.end();
      h.child.kill("SIGKILL");
    }
    await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
    removeNamespaces();
    process.removeListener("exit", removeNamespaces);
    await fixture?.cleanup();
  };

  try {
    fixture = await fixtureRoot("network-netns");
    const root = fixture.root;
    await mkdir(join(root, "proc"));
    await mkdir(join(root, "sys"));
    const conflist = join(root, "etc/cni/net.d/10-containerd-net.conflist");
    await writeFile(conflist, (await readFile(conflist, "utf8")).replace('"bridge": "cni0"', `"bridge": "${bridge}"`));

    run("ip", ["netns", "add", nodeNs]);
    run("ip", ["netns", "add", peerNs]);
    run("ip", ["link", "add", uplink, "netns", nodeNs, "type", "veth", "peer", "name", peerLink, "netns", peerNs]);
    const inNode = (...args: string[]) => run("ip", ["netns", "exec", nodeNs, ...args]);
    const inPeer = (...args: string[]) => run("ip", ["netns", "exec", peerNs, ...args]);
    inNode("ip", "link", "set", "lo", "up");
    inNode("ip", "link", "set", uplink, "mtu", "1500", "up");
    inNode("ip", "addr", "add", `${NODE_IP}/24`, "dev", uplink);
    inNode("ip", "route", "add", "default", "via", PEER_IP);
    inNode("ip", "link", "add", bridge, "type", "bridge");
    inNode("ip", "link", "set", bridge, "mtu", "1500", "up");
    inNode("ip", "addr", "add", "10.88.0.1/16", "dev", bridge);
    // A new namespace starts with forwarding off: a node has it on.
    inNode("sysctl", "-qw", "net.ipv4.ip_forward=1");
    run("ip", ["netns", "exec", nodeNs, "nft", "-f", "-"], NFT_RULES);
    inPeer("ip", "link", "set", "lo", "up");
    inPeer("ip", "link", "set", peerLink, "up");
    inPeer("ip", "addr", "add", `${PEER_IP}/24`, "dev", peerLink);

    // The API server stays outside: a unix socket crosses namespaces, TCP on 127.0.0.1 does not.
    const socketPath = join(root, "apiserver.sock");
    relay = createServer((client) => {
      const upstream = createConnection(api.port, "127.0.0.1");
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => relay?.once("error", reject).listen(socketPath, resolve));

    const peer = await startHelper(peerNs, ["--dns", `${PEER_IP}:53`, `${SERVICE_DOMAIN}=${KUBERNETES_VIP}`, "--tcp", `${PEER_IP}:6443`]);
    helpers.push(peer);
    helpers.push(await startHelper(nodeNs, ["--http", "127.0.0.1:10249", "/proxyMode=nftables", "--relay", `127.0.0.1:${api.port}=${socketPath}`]));

    return {
      nodeNs,
      peerNs,
      uplink,
      peerLink,
      bridge,
      root,
      inNode,
      inPeer,
      setDns: (mode) => peer.send(`dns ${mode}`),
      async uplinkUp() {
        const deadline = Date.now() + 5000;
        let state = "";
        while ((state = inNode("cat", `/sys/class/net/${uplink}/operstate`).trim()) !== "up") {
          if (Date.now() > deadline) throw new Error(`${uplink} in ${nodeNs} is still ${state} 5 s after it was set up`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      runCheck(extra = []) {
        // sh is pid 1 of the new pid namespace and execs node-doctor, which stays pid 1.
        const script = 'mount --bind /proc "$1/proc" && mount --bind /sys "$1/sys" && root="$1" && shift && exec "$@"';
        const args = ["netns", "exec", nodeNs, "unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh", root];
        args.push(
          NODE,
          BUNDLE,
          "check",
          "--only",
          "network",
          "--host-root",
          root,
          "--kubeconfig",
          kubeconfig,
          "--node-name",
          nodeName,
          "--output",
          "json",
          ...extra,
        );
        return new Promise((resolve, reject) => {
          const child = spawn("ip", args, { env: { PATH }, stdio: ["ignore", "pipe", "pipe"] });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`node-doctor check in ${nodeNs} did not exit within 30 s\n${stdout}\n${stderr}`));
          }, 30_000);
          child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
          });
        });
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
