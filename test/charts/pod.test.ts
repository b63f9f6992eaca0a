/**
 * The container's command line as Kubernetes builds it — the image's
 * ENTRYPOINT followed by the DaemonSet's args, with its environment and its
 * ConfigMap — runs the real bundle, which serves the probes' paths and labels
 * its series with the node from the downward API. NOTES.txt's diagnosis
 * command works too.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Container } from "kubernetes-types/core/v1.js";
import { BUNDLE, assertBuilt, runCli } from "../support/cli.js";
import { findObject, REPO, renderChart, type Rendered } from "../support/helm.js";

/** The image's ENTRYPOINT, with the bundle at its place in this checkout. */
async function entrypoint(): Promise<string[]> {
  const dockerfile = await readFile(join(REPO, "Dockerfile"), "utf8");
  const line = /^ENTRYPOINT\s+(.+)$/m.exec(dockerfile)?.[1];
  assert.ok(line, "the Dockerfile has an ENTRYPOINT");
  const argv = JSON.parse(line) as string[];
  assert.equal(argv[0], "node");
  return [process.execPath, ...argv.slice(1).map((a) => (a === "/app/dist/node-doctor.mjs" ? BUNDLE : a))];
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

    // Only what cannot exist here changes: the host root, the config's mount point, the port.
    const args = (container.args ?? []).map((a) =>
      a === "--host-root=/host" ? `--host-root=${dir}` : a === "--config=/etc/node-doctor/config.yaml" ? `--config=${join(dir, "config.yaml")}` : a.startsWith("--listen=") ? "--listen=127.0.0.1:0" : a,
    );
    assert.deepEqual(args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]), ["--host-root", "--config", "--listen"]);
    const env: Record<string, string> = { PATH: process.env["PATH"] ?? "" };
    for (const e of container.env ?? []) {
      if (e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") env[e.name] = "node-a";
      else if (e.value !== undefined) env[e.name] = e.value;
    }
    const [node, ...flags] = await entrypoint();
    agent = spawn(node as string, [...flags, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent did not serve within 20 s:\n${output}`)), 20_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        const match = /serving on (http:\/\/[^\s"]+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      };
      agent?.stdout?.on("data", onData);
      agent?.stderr?.on("data", onData);
      agent?.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the agent exited with ${code}:\n${output}`));
      });
    });
  });

  after(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent?.once("exit", resolve));
      agent.kill("SIGTERM");
      await exited;
    }
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
