/**
 * The transport, credentials and ClusterReader against the fake API server
 * over real HTTPS: token and client-certificate kubeconfigs, in-cluster config
 * with a rotating token, 404 as null, deadlines on hung answers, metrics.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Registry } from "../../src/telemetry/prometheus.js";
import { createClient } from "../../src/kube/connect.js";
import { inClusterCredentials, kubeconfigCredentials, KubeConfigError } from "../../src/kube/credentials.js";
import { ApiError, parseRetryAfter, Transport } from "../../src/kube/transport.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeClientFor, kubeReaderFor } from "../support/kube.js";
import { runCli } from "../support/cli.js";

describe("kube client against the fake API server", () => {
  let api: FakeApiServer;
  let dir: string;
  before(async () => {
    api = await FakeApiServer.start();
    api.seedNode("node-1");
    api.seedLease("node-1", { renewTime: new Date("2026-11-24T12:00:00Z"), durationSeconds: 40 });
    dir = await api.scratchDir("nd-kube-");
  });
  after(() => api.close());

  for (const auth of ["token", "cert"] as const) {
    it(`reads the Node, its Lease and the server's clock with a ${auth} kubeconfig`, async () => {
      const { reader, close } = await kubeReaderFor(api, "node-1", { auth });
      try {
        const signal = AbortSignal.timeout(5_000);
        const { node, timing } = await reader.getNode(signal);
        assert.equal(node?.metadata?.name, "node-1");
        assert.ok(node?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        assert.ok(timing.serverDateMs !== undefined && timing.receivedAtMs >= timing.sentAtMs);
        const { lease } = await reader.getLease(signal);
        assert.equal(lease?.spec?.leaseDurationSeconds, 40);
        const last = api.requests.at(-1);
        assert.equal(last?.user, auth === "token" ? "token" : "system:node:node-doctor-test");
      } finally {
        close();
      }
    });
  }

  it("reads CA, certificate and token from files a kubeconfig names", async () => {
    for (const auth of ["token", "cert"] as const) {
      const path = await api.writeKubeconfig(join(dir, `files-${auth}`), { auth, files: true });
      const client = createClient(await kubeconfigCredentials(path), { timeoutMs: 5_000 });
      try {
        const { node } = await client.getNode("node-1");
        assert.equal(node?.metadata?.name, "node-1");
      } finally {
        client.close();
      }
    }
  });

  it("returns null for a Node or Lease that does not exist (404)", async () => {
    const { reader, close } = await kubeReaderFor(api, "ghost");
    try {
      assert.equal((await reader.getNode(AbortSignal.timeout(5_000))).node, null);
      assert.equal((await reader.getLease(AbortSignal.timeout(5_000))).lease, null);
    } finally {
      close();
    }
  });

  it("reports the server's Date header with its skew for the clock check", async () => {
    const { reader, close } = await kubeReaderFor(api, "node-1");
    api.clockSkewMs = 3_600_000;
    try {
      const timing = await reader.probeTime(AbortSignal.timeout(5_000));
      const offset = (timing.serverDateMs ?? 0) - (timing.sentAtMs + timing.receivedAtMs) / 2;
      assert.ok(Math.abs(offset - 3_600_000) < 2_000, `offset ${offset}`);
    } finally {
      api.clockSkewMs = 0;
      close();
    }
  });

  it("rejects a wrong token and a certificate from another CA with 401", async () => {
    const creds = await kubeconfigCredentials(await api.writeKubeconfig(join(dir, "bad"), { auth: "none" }));
    const wrongToken = new Transport({ ...creds, token: async () => "wrong" }, { timeoutMs: 5_000 });
    const stranger = new Transport({ ...creds, cert: api.pki.strangerCert, key: api.pki.strangerKey }, { timeoutMs: 5_000 });
    try {
      for (const transport of [wrongToken, stranger]) {
        await assert.rejects(
          transport.request({ verb: "get", resource: "nodes", method: "GET", path: "/api/v1/nodes/node-1" }),
          (e: unknown) => e instanceof ApiError && e.status === 401,
        );
      }
    } finally {
      wrongToken.close();
      stranger.close();
    }
  });

  it("gives up on a hung answer at the deadline and counts it as <error>", async () => {
    const registry = new Registry();
    const { client, close } = await kubeClientFor(api, { timeoutMs: 300, registry });
    api.fault({ resource: "nodes", verb: "get" }, { hang: true, times: 1 });
    const started = performance.now();
    try {
      await assert.rejects(client.getNode("node-1"), (e: unknown) => e instanceof ApiError && e.unreachable && /within 300 ms/.test(e.message));
      assert.ok(performance.now() - started < 2_000);
      await client.getNode("node-1");
      const text = await registry.metrics();
      assert.match(text, /node_doctor_apiserver_requests_total\{verb="get",resource="nodes",code="<error>"\} 1/);
      assert.match(text, /node_doctor_apiserver_requests_total\{verb="get",resource="nodes",code="200"\} 1/);
      assert.match(text, /node_doctor_apiserver_reachable 1/);
      assert.match(text, /node_doctor_apiserver_request_duration_seconds_count\{verb="get",resource="nodes"\} 2/);
    } finally {
      api.clearFaults();
      close();
    }
  });

  it("waits for a slow answer within the deadline", async () => {
    const { client, close } = await kubeClientFor(api, { timeoutMs: 5_000 });
    api.fault({ resource: "nodes", verb: "get" }, { delayMs: 300, times: 1 });
    const started = performance.now();
    try {
      assert.equal((await client.getNode("node-1")).node?.metadata?.name, "node-1");
      assert.ok(performance.now() - started >= 290);
    } finally {
      api.clearFaults();
      close();
    }
  });

  it("honours the caller's AbortSignal", async () => {
    const { client, close } = await kubeClientFor(api);
    api.fault({ resource: "nodes" }, { hang: true, times: 1 });
    try {
      await assert.rejects(client.getNode("node-1", AbortSignal.timeout(200)), (e: unknown) => e instanceof ApiError && e.status === 0);
    } finally {
      api.clearFaults();
      close();
    }
  });

  it("carries Retry-After of a 429 and marks the API unusable", async () => {
    const registry = new Registry();
    const { client, close } = await kubeClientFor(api, { registry });
    api.fault({ resource: "nodes/status" }, { status: 429, retryAfterSeconds: 7, times: 1 });
    try {
      await assert.rejects(
        client.patchNodeStatus("node-1", { status: {} }),
        (e: unknown) => e instanceof ApiError && e.status === 429 && e.retryAfterMs === 7_000,
      );
      assert.match(await registry.metrics(), /node_doctor_apiserver_reachable 0/);
    } finally {
      api.clearFaults();
      close();
    }
  });

  it("reports a down API server as unreachable, and works again when it is back", async () => {
    const { client, close } = await kubeClientFor(api, { timeoutMs: 2_000 });
    try {
      await client.getNode("node-1");
      api.setDown(true);
      await assert.rejects(client.getNode("node-1"), (e: unknown) => e instanceof ApiError && e.unreachable);
      api.setDown(false);
      assert.equal((await client.getNode("node-1")).node?.metadata?.name, "node-1");
    } finally {
      api.setDown(false);
      close();
    }
  });

  it("uses in-cluster config and re-reads a rotated token after a 401", async () => {
    const sa = join(dir, "serviceaccount");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "ca.crt"), api.pki.caCert);
    await writeFile(join(sa, "token"), "expired-token\n");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port) };
    const creds = await inClusterCredentials(env, sa);
    assert.ok(creds);
    const client = createClient(creds, { timeoutMs: 5_000 });
    try {
      await assert.rejects(client.getNode("node-1"), (e: unknown) => e instanceof ApiError && e.status === 401);
      await writeFile(join(sa, "token"), `${api.token}\n`); // kubelet rotated the projected token
      assert.equal((await client.getNode("node-1")).node?.metadata?.name, "node-1");
      assert.equal(await inClusterCredentials({}, sa), undefined, "no service env: not in a pod");
    } finally {
      client.close();
    }
  });

  it("names the file and key when a kubeconfig is wrong", async () => {
    const cases: Array<[string, RegExp]> = [
      ["{", /invalid YAML/],
      ["- a\n- b\n", /mapping at the top level/],
      ["apiVersion: v1\nkind: Config\n", /current-context is not set/],
      ["current-context: x\ncontexts: []\n", /contexts: no entry named "x"/],
      ["current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n", /only https/],
      [
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', certificate-authority-data: bm9wZQ==}\nusers:\n- name: u\n  user: {}\n",
        /certificate-authority-data: is not base64-encoded PEM/,
      ],
      [
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {client-certificate: missing.crt, client-key: missing.key}\n",
        /users\[u\]\.client-certificate: cannot read .*missing\.crt: ENOENT/,
      ],
    ];
    for (const [text, pattern] of cases) {
      const path = join(dir, "broken-kubeconfig");
      await writeFile(path, text);
      await assert.rejects(kubeconfigCredentials(path), (e: unknown) => e instanceof KubeConfigError && pattern.test(e.message) && e.message.includes(path));
    }
    await assert.rejects(kubeconfigCredentials(join(dir, "absent")), /does not exist/);
  });

  it("honours a kubeconfig's proxy-url (a CONNECT proxy on loopback) and its user's `as` (impersonation)", async () => {
    const tunnels: string[] = [];
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(`${req.url} ${req.headers["proxy-authorization"] ?? ""}`);
      const [host, port] = [(req.url ?? "").replace(/:\d+$/, ""), Number(/:(\d+)$/.exec(req.url ?? "")?.[1])];
      const upstream = connect(port, host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyPort = (proxy.address() as AddressInfo).port;
    try {
      const base = await readFile(await api.writeKubeconfig(join(dir, "proxied")), "utf8");
      const path = join(dir, "proxied", "kubeconfig-proxy");
      await writeFile(
        path,
        base
          .replace(/(    server: .*\n)/, `$1    proxy-url: http://agent:s3cret@127.0.0.1:${proxyPort}\n`)
          .replace(/(  user:\n)/, "$1    as: system:node:node-1\n    as-groups: [system:nodes, system:authenticated]\n"),
      );
      const client = createClient(await kubeconfigCredentials(path), { timeoutMs: 5_000 });
      try {
        assert.equal((await client.getNode("node-1")).node?.metadata?.name, "node-1");
        await client.getNode("node-1"); // the tunnel is kept alive and reused
      } finally {
        client.close();
      }
      const apiHost = new URL(api.url).host;
      assert.deepEqual(tunnels, [`${apiHost} Basic ${Buffer.from("agent:s3cret").toString("base64")}`], "one tunnel through the proxy, with its credentials");
      assert.deepEqual(api.requests.at(-1)?.impersonating, { user: "system:node:node-1", groups: ["system:nodes", "system:authenticated"] });

      const socks = join(dir, "proxied", "kubeconfig-socks");
      await writeFile(socks, base.replace(/(    server: .*\n)/, "$1    proxy-url: socks5://127.0.0.1:1080\n"));
      await assert.rejects(
        kubeconfigCredentials(socks),
        /clusters\[fake\]: proxy-url socks5:\/\/…: only http:\/\/ and https:\/\/ \(CONNECT\) proxies are supported/,
      );
      const groupsAlone = join(dir, "proxied", "kubeconfig-groups");
      await writeFile(groupsAlone, base.replace(/(  user:\n)/, "$1    as-groups: [x]\n"));
      await assert.rejects(kubeconfigCredentials(groupsAlone), /as-uid, as-groups and as-user-extra need `as`/);
      const cli = await runCli(["check", "--only", "disk", "--host-root", dir, "--kubeconfig", socks]);
      assert.equal(cli.code, 3, cli.stderr);
      assert.match(cli.stderr, /node-doctor: kubeconfig .*kubeconfig-socks: clusters\[fake\]: proxy-url socks5/);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("resolves an exec credential plugin through @kubernetes/client-node, loaded only for such kubeconfigs", async () => {
    const plugin = join(dir, "credential-plugin.sh");
    await writeFile(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${api.token}"}}'\n`, {
      mode: 0o755,
    });
    const path = join(dir, "exec-kubeconfig");
    await writeFile(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c",
        "  cluster:",
        `    server: ${api.url}`,
        `    certificate-authority-data: ${Buffer.from(api.pki.caCert).toString("base64")}`,
        "users:",
        "- name: u",
        "  user:",
        "    exec:",
        "      apiVersion: client.authentication.k8s.io/v1",
        `      command: ${plugin}`,
        "      interactiveMode: Never",
        "contexts:",
        "- name: x",
        "  context: {cluster: c, user: u}",
        "current-context: x",
        "",
      ].join("\n"),
    );
    const creds = await kubeconfigCredentials(path);
    assert.match(creds.origin, /credential plugin/);
    const client = createClient(creds, { timeoutMs: 5_000 });
    try {
      assert.equal((await client.getNode("node-1")).node?.metadata?.name, "node-1");
      assert.equal(api.requests.at(-1)?.user, "token");
    } finally {
      client.close();
    }
  });

  it("lists nodes in pages with a label selector", async () => {
    for (let i = 0; i < 7; i++) api.seedNode(`pool-${i}`, { labels: { pool: i % 2 === 0 ? "even" : "odd" } });
    const { client, close } = await kubeClientFor(api);
    try {
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await client.listNodes({ limit: 2, labelSelector: "pool=even", ...(token ? { continueToken: token } : {}) });
        names.push(...page.items.map((n) => n.metadata?.name ?? ""));
        token = page.continueToken;
        pages++;
      } while (token);
      assert.deepEqual(names, ["pool-0", "pool-2", "pool-4", "pool-6"]);
      assert.equal(pages, 2);
    } finally {
      close();
    }
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-11-25T12:00:00Z");
    assert.equal(parseRetryAfter("7", now), 7_000);
    assert.equal(parseRetryAfter("Wed, 25 Nov 2026 12:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
