/**
 * Each declarative probe of a custom check on a node tree or a real endpoint:
 * the fact in, the finding out — ok, problem, and could not look (a throw,
 * which the engine turns into unknown). Node trees are made in the test
 * (an operator's own facts have no installer to come from); endpoints are
 * real servers on loopback; systemd is the stand-in on a real dbus-daemon.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFile, chmod, chown, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { checkContext } from "../support/check-context.js";
import { CertificateMint } from "../support/certs.js";
import { customCheck, runOnce } from "../support/custom-checks.js";
import { startFakeSystemd, type FakeSystemd } from "../support/fake-systemd.js";
import { FakeClock } from "../support/fake-clock.js";
import { kernelEntry, testJournalReader, unitEntry, writeJournal } from "../support/journal.js";
import { systemClock } from "../../src/time/clock.js";

let root: string;

async function put(path: string, content: string, mode = 0o644): Promise<string> {
  const local = join(root, path);
  await mkdir(dirname(local), { recursive: true });
  await writeFile(local, content);
  await chmod(local, mode);
  return local;
}

function check(probe: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return customCheck({ name: "probe", condition: "ProbeProblem", probe, ...extra });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "nd-custom-"));
});
after(() => rm(root, { recursive: true, force: true }));

describe("file probe", () => {
  // /proc/mounts of a node with an NFS share, as the kernel writes it (fs/proc_namespace.c: source mountpoint type options 0 0).
  const MOUNTS = [
    "/dev/nvme0n1p1 / ext4 rw,relatime,discard,errors=remount-ro 0 0",
    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
    "filer.example.internal:/export/data /mnt/data nfs4 rw,relatime,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.3.17,local_lock=none,addr=10.0.0.40 0 0",
  ].join("\n");
  const nfs = { kind: "file", path: "/proc/1/mounts", matches: String.raw`^\S+ /mnt/data nfs4? ` };
  const nfsOutcomes = {
    ok: { reason: "NfsDataMounted" },
    problem: { reason: "NfsDataNotMounted", message: "/mnt/data is not an NFS mount ({{.path}} has no such line)", remedy: "mount it: mount {{.name}}" },
  };

  it("a required NFS mount: present → ok with the matched line; gone → the configured problem", async () => {
    await put("proc/1/mounts", `${MOUNTS}\n`);
    const mounted = await runOnce(check(nfs, nfsOutcomes), checkContext(root));
    assert.equal(mounted.severity, "ok");
    assert.equal(mounted.reason, "NfsDataMounted");
    assert.match(mounted.message, /matches "filer\.example\.internal:\/export\/data \/mnt\/data nfs4"\)$/);
    await put("proc/1/mounts", `${MOUNTS.split("\n").slice(0, 2).join("\n")}\n`);
    const gone = await runOnce(check(nfs, nfsOutcomes), checkContext(root));
    assert.equal(gone.severity, "critical");
    assert.equal(gone.reason, "NfsDataNotMounted");
    assert.equal(gone.condition, "ProbeProblem");
    assert.equal(gone.message, "/mnt/data is not an NFS mount (/proc/1/mounts has no such line)");
    assert.equal(gone.remedy, "mount it: mount probe");
  });

  it("mode, owner by name from the node's /etc/passwd, and age", async () => {
    await put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nkubelet:x:999:999::/var/lib/kubelet:/usr/sbin/nologin\n");
    const conf = await put("etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n", 0o600);
    await chown(conf, 0, 0);
    const strict = { kind: "file", path: "/etc/kubernetes/kubelet.conf", maxMode: "0600", owner: "root" };
    assert.equal((await runOnce(check(strict), checkContext(root))).severity, "ok");
    await chmod(conf, 0o644);
    const loose = await runOnce(check(strict), checkContext(root));
    assert.equal(loose.severity, "critical");
    assert.match(loose.message, /kubelet\.conf has mode 0644, more than 0600 allows \(extra bits 0044\)/);
    const wrongOwner = await runOnce(check({ ...strict, maxMode: "0644", owner: "kubelet" }), checkContext(root));
    assert.match(wrongOwner.message, /is owned by uid 0, expected kubelet \(uid 999\)/);
    const noUser = await runOnce(check({ ...strict, maxMode: "0644", owner: "etcd" }), checkContext(root));
    assert.match(noUser.message, /should be owned by user etcd, who does not exist in the node's \/etc\/passwd/);
    const exact = await runOnce(check({ kind: "file", path: "/etc/kubernetes/kubelet.conf", mode: "0600" }), checkContext(root));
    assert.match(exact.message, /has mode 0644, expected 0600/);

    const stamp = await put("var/lib/backup/last-success", "ok\n");
    const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
    await utimes(stamp, twoDaysAgo, twoDaysAgo);
    const stale = await runOnce(check({ kind: "file", path: "/var/lib/backup/last-success", maxAgeSeconds: 86400 }), checkContext(root));
    assert.equal(stale.severity, "critical");
    assert.match(stale.message, /was last modified 2 days ago \(.*\), more than the 24 h allowed/);
  });

  it("exists: false — a file that must be absent", async () => {
    const probe = { kind: "file", path: "/etc/cni/net.d/10-old-bridge.conf", exists: false };
    assert.equal((await runOnce(check(probe), checkContext(root))).severity, "ok");
    await put("etc/cni/net.d/10-old-bridge.conf", "{}");
    const there = await runOnce(check(probe, { problem: { severity: "warning", reason: "StaleCniConfig" } }), checkContext(root));
    assert.deepEqual(
      [there.severity, there.reason, there.message],
      ["warning", "StaleCniConfig", "/etc/cni/net.d/10-old-bridge.conf exists but must be absent"],
    );
  });

  it("could not look: a symlink loop, or a FIFO to match against (never blocks), throws naming the path", async () => {
    await mkdir(join(root, "loop"), { recursive: true });
    await symlink("/loop/b", join(root, "loop/a"));
    await symlink("/loop/a", join(root, "loop/b"));
    await assert.rejects(check({ kind: "file", path: "/loop/a" }).run(checkContext(root)), /\/loop\/a: symlink loop/);
    execFileSync("mkfifo", [join(root, "fifo")]);
    await assert.rejects(check({ kind: "file", path: "/fifo", matches: "x" }).run(checkContext(root)), /\/fifo: is not a regular file/);
  });
});

describe("sysctl probe", () => {
  it("a value compared with =, >=, in; a key that does not exist is a problem naming the module", async () => {
    await put("proc/sys/vm/max_map_count", "65530\n");
    const elastic = check(
      { kind: "sysctl", key: "vm.max_map_count", op: ">=", value: 262144 },
      { problem: { severity: "warning", remedy: "sysctl -w {{.key}}={{.expected}}" } },
    );
    const low = await runOnce(elastic, checkContext(root));
    assert.deepEqual(
      [low.severity, low.message, low.remedy],
      ["warning", "vm.max_map_count is 65530, expected >= 262144", "sysctl -w vm.max_map_count=262144"],
    );
    await put("proc/sys/vm/max_map_count", "262144\n");
    assert.equal((await runOnce(elastic, checkContext(root))).message, "vm.max_map_count = 262144 (>= 262144)");
    await put("proc/sys/kernel/pid_max", "4194304\n");
    assert.equal((await runOnce(check({ kind: "sysctl", key: "kernel/pid_max", op: "in", value: [32768, 4194304] }), checkContext(root))).severity, "ok");
    await put("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    const range = await runOnce(check({ kind: "sysctl", key: "kernel.pid_max", op: "!=", value: "4194304" }), checkContext(root));
    assert.equal(range.message, "kernel.pid_max is 4194304, expected != 4194304");
    const missing = await runOnce(check({ kind: "sysctl", key: "fs.inotify.max_user_instances", value: 8192 }), checkContext(root));
    assert.match(missing.message, /fs\.inotify\.max_user_instances does not exist on this node \(no \/proc\/sys entry\)/);
  });

  it("net.* is per network namespace: judged only in the node's, could not look otherwise", async () => {
    await put("proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
    // A node copy has no /proc/self to compare with pid 1: no telling whose namespace this is.
    await assert.rejects(
      check({ kind: "sysctl", key: "net.bridge.bridge-nf-call-iptables", value: 1 }).run(checkContext(root)),
      /net\.bridge\.bridge-nf-call-iptables is per network namespace and could not compare .*hostNetwork: true/,
    );
    // This machine's own /proc, in its own (the host's) namespace.
    const forward = execFileSync("cat", ["/proc/sys/net/ipv4/ip_forward"], { encoding: "utf8" }).trim();
    const finding = await runOnce(check({ kind: "sysctl", key: "net.ipv4.ip_forward", value: forward }), checkContext("/"));
    assert.equal(finding.message, `net.ipv4.ip_forward = ${forward} (= ${forward})`);
  });

  it("an ordering on a value that is not a number: could not look", async () => {
    await put("proc/sys/kernel/core_pattern", "|/usr/lib/systemd/systemd-coredump %P\n");
    await assert.rejects(
      check({ kind: "sysctl", key: "kernel.core_pattern", op: ">", value: 1 }).run(checkContext(root)),
      /is "\|\/usr\/lib\/systemd\/systemd-coredump %P", not a number/,
    );
  });
});

describe("unit probe", () => {
  let systemd: FakeSystemd | undefined;
  afterEach(async () => {
    await systemd?.stop();
    systemd = undefined;
  });
  const bus = () => join(root, "run/dbus/system_bus_socket");

  it("over D-Bus: active and enabled → ok; failed → the problem with systemd's states; not-found → a problem", async () => {
    systemd = await startFakeSystemd(bus(), {
      units: {
        "containerd.service": {
          Unit: { LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled" },
          Service: { NRestarts: 0 },
        },
        "mnt-data.mount": { Unit: { LoadState: "loaded", ActiveState: "active", SubState: "mounted", UnitFileState: "generated" } },
      },
    });
    const containerd = check(
      { kind: "unit", unit: "containerd.service", subState: ["running"], unitFileState: ["enabled"] },
      { problem: { remedy: "systemctl restart {{.unit}}" } },
    );
    const ok = await runOnce(containerd, checkContext(root));
    assert.deepEqual([ok.severity, ok.message], ["ok", "containerd.service is active (running), enabled"]);
    // A mount unit has no Service interface: asked only for its Unit properties.
    const mount = await runOnce(check({ kind: "unit", unit: "mnt-data.mount", subState: ["mounted"] }), checkContext(root));
    assert.equal(mount.message, "mnt-data.mount is active (mounted), generated");

    await systemd.setState({
      units: {
        "containerd.service": {
          Unit: { LoadState: "loaded", ActiveState: "failed", SubState: "failed", UnitFileState: "enabled" },
          Service: { Result: "exit-code" },
        },
      },
    });
    const failed = await runOnce(containerd, checkContext(root));
    assert.equal(failed.severity, "critical");
    assert.equal(failed.message, "containerd.service is failed (failed), enabled: ActiveState failed is not active; SubState failed is not running");
    assert.equal(failed.remedy, "systemctl restart containerd.service");
    const gone = await runOnce(check({ kind: "unit", unit: "nfs-client.target" }), checkContext(root));
    assert.match(gone.message, /^nfs-client\.target does not exist \(systemd: not-found\): ActiveState inactive is not active$/);
  });

  it("without the bus: the unit's files and cgroup (enabled, running); systemd hung: the same, saying why", async () => {
    const files = await mkdtemp(join(root, "files-"));
    const at = (p: string) => join(files, p);
    await mkdir(at("lib/systemd/system"), { recursive: true });
    await writeFile(
      at("lib/systemd/system/containerd.service"),
      "[Unit]\nDescription=containerd\n[Service]\nExecStart=/usr/bin/containerd\n[Install]\nWantedBy=multi-user.target\n",
    );
    await mkdir(at("etc/systemd/system/multi-user.target.wants"), { recursive: true });
    await symlink("/lib/systemd/system/containerd.service", at("etc/systemd/system/multi-user.target.wants/containerd.service"));
    await mkdir(at("sys/fs/cgroup/system.slice/containerd.service"), { recursive: true });
    await writeFile(at("sys/fs/cgroup/system.slice/containerd.service/cgroup.procs"), "812\n3301\n");
    const probe = { kind: "unit", unit: "containerd.service", unitFileState: ["enabled"] };
    const running = await runOnce(check(probe), checkContext(files));
    assert.equal(running.severity, "ok");
    assert.equal(
      running.message,
      "containerd.service is active (running), enabled [judged from its files: no system bus socket at /run/dbus/system_bus_socket]",
    );
    await writeFile(at("sys/fs/cgroup/system.slice/containerd.service/cgroup.procs"), "");
    const stopped = await runOnce(check(probe), checkContext(files));
    assert.match(stopped.message, /^containerd\.service is inactive \(dead\), enabled: ActiveState inactive is not active \[judged from its files/);
    await rm(at("etc/systemd/system/multi-user.target.wants/containerd.service"));
    const disabled = await runOnce(check({ ...probe, activeState: [] }), checkContext(files));
    assert.match(disabled.message, /UnitFileState disabled is not enabled/);

    // A mount, from the node's mount table.
    await mkdir(at("proc/1"), { recursive: true });
    await writeFile(at("proc/1/mountinfo"), "36 1 0:40 / /mnt/data rw,relatime shared:1 - nfs4 filer:/export/data rw,vers=4.2\n");
    assert.match((await runOnce(check({ kind: "unit", unit: "mnt-data.mount" }), checkContext(files))).message, /^mnt-data\.mount is active \(mounted\)/);

    systemd = await startFakeSystemd(join(files, "run/dbus/system_bus_socket"), { units: {}, hang: ["GetUnit"] });
    const hung = await runOnce(check(probe, { timeoutSeconds: 5 }), checkContext(files));
    assert.match(hung.message, /\[judged from its files: systemd did not answer over D-Bus \(.*GetUnit .* timed out after 1000 ms\)\]$/);
  });

  it("could not look: no bus, and nothing on disk tells whether it runs", async () => {
    const bare = await mkdtemp(join(root, "bare-"));
    await mkdir(join(bare, "lib/systemd/system"), { recursive: true });
    await writeFile(join(bare, "lib/systemd/system/backup.timer"), "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n");
    await assert.rejects(
      check({ kind: "unit", unit: "backup.timer" }).run(checkContext(bare)),
      /no system bus socket at \/run\/dbus\/system_bus_socket, and backup\.timer's ActiveState cannot be told from its files/,
    );
  });
});

describe("tcp probe", () => {
  it("open → ok; refused → problem; expect closed inverts both; outside the node's network namespace → could not look", async () => {
    const server = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const open = await runOnce(check({ kind: "tcp", host: "127.0.0.1", port }), checkContext("/"));
      assert.match(open.message, new RegExp(`^127\\.0\\.0\\.1:${port} accepts connections \\(\\d+ ms\\)$`));
      const forbidden = await runOnce(check({ kind: "tcp", host: "127.0.0.1", port, expect: "closed" }), checkContext("/"));
      assert.equal(forbidden.severity, "critical");
      assert.equal(forbidden.message, `127.0.0.1:${port} accepts connections, but nothing may listen there`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const refused = await runOnce(
      check({ kind: "tcp", host: "127.0.0.1", port }, { problem: { message: "{{.address}} refused: {{.error}}" } }),
      checkContext("/"),
    );
    assert.equal(refused.severity, "critical");
    assert.match(refused.message, new RegExp(`^127\\.0\\.0\\.1:${port} refused: .*ECONNREFUSED`));
    assert.equal((await runOnce(check({ kind: "tcp", host: "::1", port, expect: "closed" }), checkContext("/"))).severity, "ok");
    await assert.rejects(check({ kind: "tcp", host: "127.0.0.1", port }).run(checkContext(root)), /cannot probe 127\.0\.0\.1:\d+ as the node would/);
  });
});

describe("http probe", () => {
  let plain: Server;
  let plainUrl: string;
  const hung = new Set<import("node:http").ServerResponse>();
  const mint = new CertificateMint();
  before(async () => {
    plain = createHttpServer((req, res) => {
      if (req.url === "/v2/") res.writeHead(401, { "www-authenticate": 'Bearer realm="x"' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      else if (req.url === "/healthz") res.writeHead(200).end("ok");
      else if (req.url === "/down") res.writeHead(503).end("overloaded");
      else if (req.url === "/hang") hung.add(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hung) res.destroy();
    await new Promise((resolve) => plain.close(resolve));
    plain.closeAllConnections();
    mint.cleanup();
  });

  it("a registry's /v2/ answering 401 counts as up when 401 is expected; 503 and a body mismatch are problems", async () => {
    const registry = await runOnce(check({ kind: "http", url: `${plainUrl}/v2/`, expectStatus: [200, 401] }), checkContext("/"));
    assert.match(registry.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/ answered 401 in \d+ ms$/);
    const down = await runOnce(check({ kind: "http", url: `${plainUrl}/down` }, { problem: { message: "{{.url}}: HTTP {{.status}}" } }), checkContext("/"));
    assert.deepEqual([down.severity, down.message], ["critical", `${plainUrl}/down: HTTP 503`]);
    const defaultMessage = await runOnce(check({ kind: "http", url: `${plainUrl}/down` }), checkContext("/"));
    assert.match(defaultMessage.message, /answered 503, expected 200–399$/);
    const body = await runOnce(check({ kind: "http", url: `${plainUrl}/healthz`, bodyMatches: "^ok$" }), checkContext("/"));
    assert.equal(body.severity, "ok");
    const mismatch = await runOnce(check({ kind: "http", url: `${plainUrl}/v2/`, expectStatus: ["4xx"], bodyMatches: '"code":"OK"' }), checkContext("/"));
    assert.match(mismatch.message, /answered 401, but its body has no match for \/"code":"OK"\//);
  });

  it("an endpoint that accepts and never answers is a problem at the probe's deadline, not a hung check", async () => {
    const started = Date.now();
    const finding = await runOnce(check({ kind: "http", url: `${plainUrl}/hang`, timeoutSeconds: 0.5 }, { timeoutSeconds: 3 }), checkContext("/"));
    assert.equal(finding.severity, "critical");
    assert.match(finding.message, /failed: GET http:\/\/127\.0\.0\.1:\d+\/hang: no answer within 500 ms$/);
    assert.ok(Date.now() - started < 2000);
  });

  it("https with the node's CA bundle; an expired certificate and an unknown CA are problems naming the cause", async () => {
    const now = Date.now();
    const ca = mint.ca({ subject: "/CN=internal-ca", notBefore: new Date(now - 86400_000), notAfter: new Date(now + 365 * 86400_000) });
    const good = mint.leaf(ca, { subject: "/CN=localhost", profile: "server", notBefore: new Date(now - 86400_000), notAfter: new Date(now + 30 * 86400_000) });
    const expired = mint.leaf(ca, {
      subject: "/CN=localhost",
      profile: "server",
      notBefore: new Date(now - 30 * 86400_000),
      notAfter: new Date(now - 86400_000),
    });
    await put("etc/pki/internal-ca.pem", ca.certPem);
    for (const [leaf, expected] of [
      [good, /^GET https:\/\/127\.0\.0\.1:\d+\/ answered 200/],
      [expired, /failed: .*certificate has expired/],
    ] as const) {
      const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end("ok"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      try {
        // caFile is a node path; the host root is "/" here (an endpoint is probed from the node's network namespace).
        const finding = await runOnce(check({ kind: "http", url, caFile: `${root}/etc/pki/internal-ca.pem` }), checkContext("/"));
        assert.match(finding.message, expected);
        if (leaf === good) {
          const unknownCa = await runOnce(check({ kind: "http", url }), checkContext("/"));
          assert.match(unknownCa.message, /failed: .*(unable to verify|self-signed|unable to get local issuer)/i);
        }
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});

describe("log probe (the shared log engine)", () => {
  // Linux net/sunrpc/clnt.c, call_timeout() and call_decode(): "%s: server %s not responding, still trying" and "%s: server %s OK",
  // with the RPC program's name (nfs); syslog writes them to kern.log behind its own prefix.
  const line = (at: string, text: string) => `Dec  2 ${at} node7 kernel: [88214.51${at.slice(-1)}] ${text}\n`;
  const nfsDown = (at: string) => line(at, "nfs: server filer.example.internal not responding, still trying");
  const nfsOk = (at: string) => line(at, "nfs: server filer.example.internal OK");
  const probe = {
    kind: "log",
    files: ["/var/log/kern.log"],
    signatures: [{ pattern: String.raw`nfs: server (?<server>\S+) not responding`, windowSeconds: 300, clearedBy: String.raw`nfs: server \S+ OK` }],
    noise: [String.raw`nfs: server backup\.example\.internal not responding`],
  };
  const outcomes = {
    problem: {
      severity: "warning",
      reason: "NfsServerNotResponding",
      message: "NFS server {{.server}} stopped answering ({{.count}} in {{.window}})",
      remedy: "check {{.server}}",
    },
  };

  it("a matching line fires with its captures; noise never does; the window passing, or a recovery line, clears it", async () => {
    const dir = await mkdtemp(join(root, "log-"));
    const clock = new FakeClock(Date.parse("2026-12-02T00:00:00Z"));
    const log = join(dir, "var/log/kern.log");
    await mkdir(dirname(log), { recursive: true });
    await writeFile(log, line("00:00:01", "eth0: link up"));
    const c = customCheck({ name: "nfs-log", condition: "NfsServerDown", probe, ...outcomes });
    try {
      const quiet = await runOnce(c, checkContext(dir, { clock }));
      assert.deepEqual([quiet.severity, quiet.message], ["ok", "Read 1 lines from /var/log/kern.log: no signature active"]);
      await appendFile(log, line("00:00:05", "nfs: server backup.example.internal not responding, still trying") + nfsDown("00:00:06") + nfsDown("00:00:07"));
      await clock.advance(10_000);
      const down = await runOnce(c, checkContext(dir, { clock }));
      assert.deepEqual([down.severity, down.reason], ["warning", "NfsServerNotResponding"]);
      assert.equal(down.message, "NFS server filer.example.internal stopped answering (2 in 5 min)");
      assert.equal(down.remedy, "check filer.example.internal");
      assert.match((down.evidence as { sample?: string }).sample ?? "", /nfs: server filer\.example\.internal not responding, still trying$/);

      await clock.advance(6 * 60_000);
      assert.equal((await runOnce(c, checkContext(dir, { clock }))).severity, "ok", "no line for a window: cleared");

      // Rotation: the file is moved away and a new one written; both lines after it count, then the recovery clears at once.
      await rename(log, `${log}.1`);
      await writeFile(log, nfsDown("00:06:20"));
      await clock.advance(1_000);
      assert.equal((await runOnce(c, checkContext(dir, { clock }))).severity, "warning", "read across rotation");
      await appendFile(log, nfsOk("00:06:30"));
      await clock.advance(1_000);
      assert.equal((await runOnce(c, checkContext(dir, { clock }))).severity, "ok", "the recovery line clears it");
    } finally {
      await c.close?.();
    }
  });

  it("the kernel's messages from a real journal (journalctl reads it), through the agent's one journal reader", async () => {
    const dir = await mkdtemp(join(root, "journal-"));
    const now = Date.now();
    await writeJournal(dir, [
      kernelEntry(now - 60_000, "nfs: server filer.example.internal not responding, still trying", 5),
      unitEntry(now - 50_000, "containerd.service", 812, "nfs: server filer.example.internal not responding (a containerd line, not the kernel's)"),
    ]);
    const journal = testJournalReader(dir, systemClock);
    const c = customCheck(
      {
        name: "nfs-kernel",
        condition: "NfsServerDown",
        probe: { kind: "log", kernel: true, signatures: [{ pattern: String.raw`nfs: server (?<server>\S+) not responding` }] },
      },
      journal,
    );
    try {
      const finding = await runOnce(c, checkContext(dir));
      assert.equal(finding.severity, "critical");
      assert.equal(finding.reason, "NfsServerDown", "the problem reason defaults to the condition type");
      assert.match(
        finding.message,
        /^1 line\(s\) matching \/nfs: server \(\?<server>\\S\+\) not responding\/ in the journal in \/var\/log\/journal \(the kernel's messages\) within 10 min, the last at /,
      );
    } finally {
      await c.close?.();
      await journal.close();
    }
  });

  it("could not look: none of its sources is on the node", async () => {
    const dir = await mkdtemp(join(root, "nolog-"));
    const c = customCheck({ name: "nolog", condition: "NoLog", probe: { ...probe, files: ["/var/log/kern.log"] } });
    try {
      await assert.rejects(c.run(checkContext(dir)), /no log to read: no readable file among \/var\/log\/kern\.log/);
    } finally {
      await c.close?.();
    }
  });
});
