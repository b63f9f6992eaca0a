/**
 * `kubectl node-doctor` against the fake API server: the built plugin, run
 * as kubectl runs it, over fleets of 1, 50 and 5,000 nodes in mixed states.
 * Tables are compared with golden files (UPDATE_GOLDEN=1 rewrites them).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { formatAge } from "../../src/fleet/render-status.js";
import { CONDITION_TYPES } from "../../src/types.js";
import { NODE } from "../support/cli.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { kubeClientFor } from "../support/kube.js";
import { fleetKindCounts, fleetNode, makeFleet } from "../support/fleet-nodes.js";
import { requireTool, runTool } from "../support/tools.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const PLUGIN = join(ROOT, "dist/kubectl-node_doctor.mjs");
const GOLDEN = join(ROOT, "test/golden");

function run(command: string, args: string[], env: Record<string, string>) {
  return runTool(command, args, { env });
}

async function golden(name: string, actual: string): Promise<void> {
  const path = join(GOLDEN, name);
  if (process.env["UPDATE_GOLDEN"] === "1") await writeFile(path, actual);
  assert.equal(actual, await readFile(path, "utf8"), `${name} differs from the golden file (UPDATE_GOLDEN=1 npm test rewrites it after a deliberate change)`);
}

/** Absolute times in JSON output become offsets from the fleet's "now", so the comparison is exact whatever the day. */
function relativeTimes(text: string, baseMs: number): string {
  return text.replace(/"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"/g, (_, iso: string) => `"now-${formatAge(baseMs - Date.parse(iso))}"`);
}

describe("kubectl node-doctor", { timeout: 120_000 }, () => {
  let api: FakeApiServer;
  let dir: string;
  let bin: string;
  let env: Record<string, string>;
  const base = Math.floor(Date.now() / 1000) * 1000;

  const plugin = (args: string[], extraEnv: Record<string, string> = {}) => run(NODE, [PLUGIN, ...args], { ...env, ...extraEnv });

  before(async () => {
    assert.ok(existsSync(PLUGIN), `${PLUGIN} is missing: run npm run build (npm test does)`);
    api = await FakeApiServer.start();
    dir = await mkdtemp(join(tmpdir(), "nd-fleet-"));
    const kubeconfig = await api.writeKubeconfig(dir);
    // What `npm install -g` would put on PATH: the plugin under kubectl's naming rule, and the pinned node for its shebang.
    bin = join(dir, "bin");
    await mkdir(bin);
    await symlink(PLUGIN, join(bin, "kubectl-node_doctor"));
    await symlink(NODE, join(bin, "node"));
    env = { PATH: `${bin}:${process.env["PATH"] ?? ""}`, KUBECONFIG: kubeconfig, HOME: dir };
  });

  after(async () => {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const seed = (count: number) => {
    for (const node of makeFleet(count, base))
      api.seedNode(node.metadata?.name ?? "", { labels: node.metadata?.labels ?? {}, conditions: node.status?.conditions ?? [] });
  };

  it("status on one healthy node", async () => {
    api.seedNode("solo", { conditions: fleetNode("solo", "healthy", base).status?.conditions ?? [] });
    const result = await plugin(["status", "--selector", "kubernetes.io/hostname=solo"]);
    assert.equal(result.code, 0, result.stderr);
    await golden("fleet-status-1.txt", result.stdout);
    api.deleteNode("solo");
  });

  it("status on 50 nodes in mixed states: table, wide and JSON exact", async () => {
    seed(50);
    const table = await plugin(["status"]);
    assert.equal(table.code, 0, table.stderr);
    await golden("fleet-status-50.txt", table.stdout);
    const counts = fleetKindCounts(50);
    const sick = CONDITION_TYPES.reduce((sum, type) => sum + counts[type], 0);
    assert.ok(table.stdout.includes(`\n50 nodes, ${sick} sick (KubeletUnhealthy ${counts.KubeletUnhealthy}, `), table.stdout);
    assert.ok(table.stdout.endsWith(`), ${counts.unknown} unknown, ${counts.silent} agents silent, ${counts.uncovered} not covered\n`), table.stdout);
    const wide = await plugin(["status", "-o", "wide"]);
    await golden("fleet-status-50-wide.txt", wide.stdout);
    const json = await plugin(["status", "-o", "json"]);
    await golden("fleet-status-50.json", relativeTimes(json.stdout, base));
    const parsed = JSON.parse(json.stdout) as { nodes: Array<{ state: string }>; totals: { nodes: number; silent: number } };
    assert.equal(parsed.nodes.length, 50);
    assert.equal(parsed.totals.silent, counts.silent);
    const edge = await plugin(["status", "-l", "pool=edge", "-o", "json"]);
    assert.equal((JSON.parse(edge.stdout) as { totals: { nodes: number } }).totals.nodes, 50 - counts.healthy);
  });

  it("describe: a sick node's conditions with the remedy, its Events and the agent's live findings", async () => {
    api.podProxy = (pod, port, path) =>
      pod.spec?.nodeName === "node-0004" && port === "9101" && path === "/findings"
        ? {
            node: "node-0004",
            findings: [
              {
                check: "certificates",
                condition: "KubeletCertificateInvalid",
                severity: "critical",
                reason: "ClientCertificateNotYetValid",
                message: "kubelet-client-current.pem is not valid until 15:00.",
                remedy:
                  "ln -sf /var/lib/kubelet/pki/kubelet-client-2026-11-01.pem /var/lib/kubelet/pki/kubelet-client-current.pem && systemctl restart kubelet",
              },
            ],
          }
        : undefined;
    const { client, close } = await kubeClientFor(api);
    await client.createEvent("default", {
      metadata: { name: "node-0004.certificates", namespace: "default" },
      involvedObject: { kind: "Node", name: "node-0004", apiVersion: "v1" },
      reason: "ClientCertificateNotYetValid",
      message: "kubelet-client-current.pem is not valid until 15:00.",
      type: "Warning",
      source: { component: "node-doctor", host: "node-0004" },
      firstTimestamp: new Date(base - 600_000).toISOString(),
      lastTimestamp: new Date(base - 600_000).toISOString(),
      count: 1,
    });
    close();
    api.seedPod({ namespace: "node-doctor", name: "node-doctor-abcde", nodeName: "node-0004", labels: { "app.kubernetes.io/name": "node-doctor" } });
    const result = await plugin(["describe", "node-0004"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /State: +sick/);
    assert.match(result.stdout, /KubeletCertificateInvalid=True +ClientCertificateNotYetValid/);
    assert.match(result.stdout, /Events:\n {2}Warning +ClientCertificateNotYetValid +10m ago +kubelet-client-current\.pem is not valid until 15:00\./);
    assert.match(result.stdout, /Live findings:\n.*CRIT/);
    assert.match(result.stdout, /ln -sf \/var\/lib\/kubelet\/pki\/kubelet-client-2026-11-01\.pem/);

    const elsewhere = await plugin(["describe", "node-0005"]);
    assert.match(elsewhere.stdout, /Live findings:\n {2}unavailable: no running node-doctor pod on node-0005/);
    const missing = await plugin(["describe", "no-such-node"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /node "no-such-node" not found/);
  });

  it("a real kubectl finds the plugin on PATH and runs it", async () => {
    const kubectl = requireTool("kubectl");
    const list = await run(kubectl, ["plugin", "list"], env);
    assert.match(list.stdout, /kubectl-node_doctor/);
    const status = await run(kubectl, ["node-doctor", "status", "-l", "pool=general"], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^NODE +STATE +KUBELET/);
    assert.ok(status.stdout.endsWith(`\n${fleetKindCounts(50).healthy} nodes, 0 sick, 0 unknown, 0 agents silent, 0 not covered\n`), status.stdout);
  });

  it("cleanup: --dry-run lists, --yes removes only node-doctor's conditions", async () => {
    const dry = await plugin(["cleanup", "--dry-run", "-l", "pool=general"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(dry.stdout.startsWith(`would remove node-doctor conditions from ${fleetKindCounts(50).healthy} node(s):`), dry.stdout);
    assert.ok(CONDITION_TYPES.every((type) => api.node("node-0001")?.status?.conditions?.some((c) => c.type === type)));

    const refused = await plugin(["cleanup", "-l", "pool=general"]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /not on a terminal; pass --yes/);

    const done = await plugin(["cleanup", "--yes", "-l", "pool=general"]);
    assert.equal(done.code, 0, done.stderr);
    const general = fleetKindCounts(50).healthy;
    assert.ok(done.stdout.includes(`removed node-doctor conditions from ${general} of ${general} node(s)`), done.stdout);
    const left = api.node("node-0001")?.status?.conditions?.map((c) => c.type);
    assert.deepEqual(left, ["MemoryPressure", "Ready"]);
  });

  it("kubeconfig the way kubectl reads it: an exec credential plugin, a KUBECONFIG list and --context", async () => {
    const plain = await readFile(env["KUBECONFIG"] ?? "", "utf8");
    const clusterBlock = /clusters:\n[\s\S]*?(?=users:)/.exec(plain)?.[0] ?? "";
    const script = join(dir, "fake-credential-helper.sh");
    await writeFile(script, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"fake-token"}}'\n`, {
      mode: 0o755,
    });
    // First file: only a context pointing at names defined in the second, and the current-context; as kubectl merges them.
    await writeFile(
      join(dir, "contexts.yaml"),
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: via-exec",
        "contexts:",
        "- name: via-exec",
        "  context: { cluster: fake, user: exec-user }",
        "- name: broken",
        "  context: { cluster: nowhere, user: exec-user }",
      ].join("\n"),
    );
    await writeFile(
      join(dir, "clusters.yaml"),
      [
        "apiVersion: v1",
        "kind: Config",
        clusterBlock.trimEnd(),
        "users:",
        "- name: exec-user",
        "  user:",
        "    exec:",
        "      apiVersion: client.authentication.k8s.io/v1",
        `      command: ${script}`,
        "      interactiveMode: Never",
      ].join("\n"),
    );
    const list = `${join(dir, "contexts.yaml")}:${join(dir, "missing.yaml")}:${join(dir, "clusters.yaml")}`;
    const viaExec = await plugin(["status", "-l", "pool=general"], { KUBECONFIG: list });
    assert.equal(viaExec.code, 0, viaExec.stderr);
    assert.ok(viaExec.stdout.includes(`\n${fleetKindCounts(50).healthy} nodes, 0 sick`), viaExec.stdout);
    const broken = await plugin(["status", "--context", "broken"], { KUBECONFIG: list });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^kubectl node-doctor: kubeconfig KUBECONFIG .*: .*nowhere/);
  });

  it("bad kubeconfig, unreachable server and 403 are one line and a non-zero exit", async () => {
    await writeFile(join(dir, "garbage"), "\0\x01binary");
    const bad = await plugin(["status"], { KUBECONFIG: join(dir, "garbage") });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /^kubectl node-doctor: kubeconfig .*garbage: /);

    const missing = await plugin(["status", "--kubeconfig", join(dir, "nope")]);
    assert.match(missing.stderr, /^kubectl node-doctor: kubeconfig .*nope: does not exist\n$/);

    api.fault({ resource: "nodes", verb: "list" }, { status: 403, times: 1 });
    const forbidden = await plugin(["status"]);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^kubectl node-doctor: forbidden \(403\): /);
    assert.equal(forbidden.stderr.trim().split("\n").length, 1);

    api.setDown(true);
    const down = await plugin(["status", "--request-timeout", "2"]);
    api.setDown(false);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^kubectl node-doctor: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+/);

    const usage = await plugin(["status", "-o", "yaml"]);
    assert.equal(usage.code, 3);
    assert.match(usage.stderr, /--output: expected table, wide or json, got "yaml"/);
  });

  it("5,000 nodes are read page by page and counted exactly", async () => {
    for (const node of makeFleet(5000, base)) {
      const name = `big-${node.metadata?.name ?? ""}`;
      api.seedNode(name, { labels: { ...node.metadata?.labels, fleet: "big" }, conditions: node.status?.conditions ?? [] });
    }
    const before = api.requests.length;
    const result = await plugin(["status", "-l", "fleet=big", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { nodes: unknown[]; totals: Record<string, number> };
    assert.equal(parsed.nodes.length, 5000);
    const counts = fleetKindCounts(5000);
    assert.deepEqual(
      [parsed.totals["sick"], parsed.totals["unknown"], parsed.totals["silent"], parsed.totals["notCovered"], parsed.totals["healthy"]],
      [CONDITION_TYPES.reduce((sum, type) => sum + counts[type], 0), counts.unknown, counts.silent, counts.uncovered, counts.healthy],
    );
    const lists = api.requests.slice(before).filter((r) => r.resource === "nodes" && r.verb === "list");
    assert.equal(lists.length, 10, "500 nodes per page");
    assert.ok(lists.every((r) => r.query["limit"] === "500"));
  });
});
