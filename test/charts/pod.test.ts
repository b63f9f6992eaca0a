/**
 * The container's command line as Kubernetes builds it — the image's
 * ENTRYPOINT followed by the DaemonSet's args, with its environment and its
 * ConfigMap — runs the real bundle, which serves the probes' paths and labels
 * its series with the node from the downward API. NOTES.txt's diagnosis
 * command works too.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Container } from "kubernetes-types/core/v1.js";
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import { BUNDLE, assertBuilt, runCli } from "../support/cli.js";
import { FakeApiServer, type RequestRecord } from "../support/fake-apiserver.js";
import { findObject, REPO, renderChart, type K8sObject, type Rendered } from "../support/helm.js";

/** The image's ENTRYPOINT, with the bundle at its place in this checkout. */
async function entrypoint(): Promise<string[]> {
  const dockerfile = await readFile(join(REPO, "Dockerfile"), "utf8");
  const line = /^ENTRYPOINT\s+(.+)$/m.exec(dockerfile)?.[1];
  assert.ok(line, "the Dockerfile has an ENTRYPOINT");
  const argv = JSON.parse(line) as string[];
  assert.equal(argv[0], "node");
  return [process.execPath, ...argv.slice(1).map((a) => (a === "/app/dist/node-doctor.mjs" ? BUNDLE : a))];
}

/** Starts the container's command line; resolves with the address it serves on. */
async function startContainer(args: string[], env: Record<string, string>, onOutput: (text: string) => void = () => {}): Promise<{ child: ChildProcess; address: string }> {
  const [node, ...flags] = await entrypoint();
  const child = spawn(node as string, [...flags, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent did not serve within 20 s:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      onOutput(output);
      const match = /serving on (http:\/\/[^\s"]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent exited with ${code}:\n${output}`));
    });
  });
  return { child, address };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** The container's args with what cannot exist here swapped: host root, config mount, port. */
function localArgs(container: Container, dir: string): string[] {
  return (container.args ?? []).map((a) =>
    a === "--host-root=/host" ? `--host-root=${dir}` : a === "--config=/etc/node-doctor/config.yaml" ? `--config=${join(dir, "config.yaml")}` : a.startsWith("--listen=") ? "--listen=127.0.0.1:0" : a,
  );
}

/** "group/resource:verb" for each rule of a ClusterRole, "core" for the core group. */
function grants(role: K8sObject): Set<string> {
  return new Set(((role as unknown as ClusterRole).rules ?? []).flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g || "core"}/${res}:${v}`)))));
}

const GROUP_OF: Record<string, string> = { nodes: "core", "nodes/status": "core", events: "core", pods: "core", namespaces: "core", leases: "coordination.k8s.io" };

/** Requests that need RBAC (not /version or discovery, which every authenticated user may read). */
function needed(requests: readonly RequestRecord[]): string[] {
  return [...new Set(requests.filter((r) => r.resource !== "version" && r.resource !== "discovery").map((r) => `${GROUP_OF[r.resource] ?? "?"}/${r.resource}:${r.verb}`))].sort();
}

describe("the chart's container command line", () => {
  let rendered: Rendered;
  let container: Container;
  let dir: string;
  let agent: ChildProcess | undefined;
  let address = "";
  let output = "";

  before(async () => {
    assertBuilt();
    rendered = await renderChart({});
    const ds = findObject(rendered.objects, "DaemonSet") as unknown as DaemonSet;
    const found = ds.spec?.template.spec?.containers[0];
    assert.ok(found);
    container = found;
    dir = await mkdtemp(join(tmpdir(), "node-doctor-pod-"));
    const configMap = findObject(rendered.objects, "ConfigMap", "node-doctor");
    await writeFile(join(dir, "config.yaml"), (configMap["data"] as Record<string, string>)["config.yaml"] ?? "");

    const args = localArgs(container, dir);
    assert.deepEqual(args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]), ["--host-root", "--config", "--listen"]);
    const env: Record<string, string> = { PATH: process.env["PATH"] ?? "" };
    for (const e of container.env ?? []) {
      if (e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") env[e.name] = "node-a";
      else if (e.value !== undefined) env[e.name] = e.value;
    }
    ({ child: agent, address } = await startContainer(args, env, (text) => (output = text)));
  });

  after(async () => {
    await stop(agent);
    await rm(dir, { recursive: true, force: true });
  });

  it("answers the liveness probe", async () => {
    const response = await fetch(new URL(container.livenessProbe?.httpGet?.path ?? "", address));
    assert.equal(response.status, 200);
  });

  it("answers the readiness probe once its first round is done", async () => {
    const path = container.readinessProbe?.httpGet?.path ?? "";
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await fetch(new URL(path, address))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, `${path} became ready`);
  });

  it("labels its series with the node from the downward API", async () => {
    const text = await (await fetch(new URL("/metrics", address))).text();
    assert.match(text, /node_doctor_build_info\{[^}]*node="node-a"/);
  });

  it("NOTES.txt's diagnosis command runs with the pod's flags", async () => {
    assert.match(rendered.notes, /-- node-doctor check --host-root=\/host --config=\/etc\/node-doctor\/config\.yaml/);
    const result = await runCli(["check", `--host-root=${dir}`, `--config=${join(dir, "config.yaml")}`], { env: { NODE_NAME: "node-a" } });
    assert.ok(result.code !== null && result.code <= 2, `exit ${result.code}, not a usage or config error: ${result.stderr}`);
  });
});

describe("RBAC against the requests the agent and the uninstall hook make", () => {
  let api: FakeApiServer;
  let dir: string;
  let rendered: Rendered;
  before(async () => {
    assertBuilt();
    api = await FakeApiServer.start();
    dir = await mkdtemp(join(tmpdir(), "node-doctor-rbac-"));
    // A node whose kubelet filesystem is "full" by a threshold nothing meets, judged at once: a
    // problem from the first run, so the agent writes its conditions and posts an Event.
    rendered = await renderChart({ config: { engine: { damping: { consecutiveRuns: 1 } }, checks: { disk: { intervalSeconds: 1, evictionHard: { "nodefs.available": "99.99%" } } } } });
    await mkdir(join(dir, "var/lib/kubelet"), { recursive: true });
    const configMap = findObject(rendered.objects, "ConfigMap", "node-doctor");
    await writeFile(join(dir, "config.yaml"), (configMap["data"] as Record<string, string>)["config.yaml"] ?? "");
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the agent's ClusterRole covers every request the agent makes while it writes conditions and Events", async () => {
    api.seedNode("node-a");
    api.seedLease("node-a", { renewTime: new Date() });
    const kubeconfig = await api.writeKubeconfig(join(dir, "agent"));
    const ds = findObject(rendered.objects, "DaemonSet") as unknown as DaemonSet;
    const container = ds.spec?.template.spec?.containers[0];
    assert.ok(container);
    const { child } = await startContainer([...localArgs(container, dir), `--kubeconfig=${kubeconfig}`], { PATH: process.env["PATH"] ?? "", NODE_NAME: "node-a" });
    try {
      for (let i = 0; i < 150 && (api.requestsTo({ verb: "patch", resource: "nodes/status" }).length === 0 || api.requestsTo({ verb: "create", resource: "events" }).length === 0); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await stop(child);
    }
    const requests = api.requestsTo({});
    assert.ok(api.requestsTo({ verb: "patch", resource: "nodes/status" }).length > 0, "the agent wrote its conditions");
    assert.ok(api.requestsTo({ verb: "create", resource: "events" }).length > 0, "the agent posted an Event");
    const granted = grants(findObject(rendered.objects, "ClusterRole", "node-doctor"));
    for (const need of needed(requests)) assert.ok(granted.has(need), `the agent's ClusterRole grants ${need}`);
  });

  it("the hook's ClusterRole covers every request of the hook's command", async () => {
    api.seedNode("node-b");
    api.seedNode("node-c");
    const kubeconfig = await api.writeKubeconfig(join(dir, "hook"));
    const job = findObject(rendered.objects, "Job", "-cleanup") as unknown as { spec: { template: { spec: { containers: Container[] } } } };
    const args = job.spec.template.spec.containers[0]?.args ?? [];
    const before = api.requestsTo({}).length;
    const result = await runCli([...args, `--kubeconfig=${kubeconfig}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /node-b: /);
    const granted = grants(findObject(rendered.objects, "ClusterRole", "-cleanup"));
    const needs = needed(api.requestsTo({}).slice(before));
    assert.ok(needs.includes("core/nodes:list"));
    for (const need of needs) assert.ok(granted.has(need), `the hook's ClusterRole grants ${need}`);
  });
});
