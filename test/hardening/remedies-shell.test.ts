/**
 * Every remedy is pasted into a root shell at 3 a.m., and its values come
 * from other parties: kubelet's flags and files on a node copy, unit names
 * from the configuration, condition types another client wrote on the Node,
 * addresses in log lines. Here those values are hostile — a path with
 * spaces, both quotes, `$(…)`, `;` and a newline — and every command a
 * remedy gives (each `…` span) must be valid shell (`sh -n`) and, pasted
 * into a shell as nobody with only a `pwned` program on its PATH, run
 * nothing the value smuggled in.
 */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { certificateSettings, createCertificatesCheck } from "../../src/checks/certificates/index.js";
import { createDiskCheck, diskSettings } from "../../src/checks/disk/index.js";
import { createKubeletCheck } from "../../src/checks/kubelet/index.js";
import { createKubeletConfigCheck, kubeletConfigSettings } from "../../src/checks/kubelet-config/index.js";
import { judgeLogs } from "../../src/checks/kubelet-logs/judge.js";
import { SIGNATURES } from "../../src/checks/kubelet-logs/signatures.js";
import { createRuntimeCheck, runtimeSettings } from "../../src/checks/runtime/index.js";
import { judgeRuntime, type RuntimeObservation } from "../../src/checks/runtime/judge.js";
import { judgeClock } from "../../src/checks/clock/judge.js";
import { judgeKernel } from "../../src/checks/kernel/judge.js";
import { SIGNATURES as KERNEL_SIGNATURES } from "../../src/checks/kernel/signatures.js";
import { Scheduler } from "../../src/engine/scheduler.js";
import { NodeState } from "../../src/engine/state.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { systemClock } from "../../src/time/clock.js";
import { GrpcError } from "../../src/wire/grpc.js";
import type { Check, ClusterReader, Finding } from "../../src/types.js";
import { CertificateMint } from "../support/certs.js";
import { checkContext, silentLog } from "../support/check-context.js";
import { writeProcess } from "../support/distro-node.js";
import { FakeApiServer } from "../support/fake-apiserver.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { kubeReaderFor } from "../support/kube.js";
import { kubeletHarness, kubeletTestSettings, NOW, startHealthz } from "../support/kubelet-harness.js";
import { carrying, pasteSandbox, SMUGGLE, type PasteSandbox } from "../support/paste.js";

/** A directory on the node named with it (a node copy is anyone's files). */
const DIR = `/srv/node doctor's "$(pwned)";pwned\npwned`;
const DAY = 86_400_000;

let paste: PasteSandbox;
before(async () => {
  paste = await pasteSandbox();
});
after(async () => {
  await paste.close();
});
const assertPasteSafe = (findings: readonly Finding[]) => paste.assertPasteSafe(findings);

describe("remedies are paste-safe whatever the values they are built from", () => {
  let fixture: FixtureRoot;
  before(async () => {
    fixture = await fixtureRoot();
  });
  after(async () => {
    await fixture.cleanup();
  });

  it("a node copy whose kubelet paths are hostile: kubelet-config, certificates, runtime and disk", async () => {
    const root = fixture.root;
    const at = (nodePath: string) => join(root, nodePath);
    const write = async (nodePath: string, text: string) => {
      await mkdir(join(at(nodePath), ".."), { recursive: true });
      await writeFile(at(nodePath), text);
    };
    const mint = new CertificateMint();
    try {
      const now = Date.now();
      const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 3650 * DAY) });
      const leaf = (from: number, to: number, profile: "client" | "server") =>
        mint.leaf(ca, {
          subject: "/O=system:nodes/CN=system:node:worker-1",
          notBefore: new Date(now + from * DAY),
          notAfter: new Date(now + to * DAY),
          profile,
        });
      const pki = `${DIR}/pki`;
      await write(`${pki}/ca.crt`, ca.certPem);
      // The certificate from the future behind kubelet-client-current.pem, an older valid one beside it.
      await write(`${pki}/kubelet-client-2026-01-01-00-00-00.pem`, leaf(-10, 300, "client").combinedPem);
      await write(`${pki}/kubelet-client-2027-01-01-00-00-00.pem`, leaf(5, 400, "client").combinedPem);
      await symlink(`${pki}/kubelet-client-2027-01-01-00-00-00.pem`, at(`${pki}/kubelet-client-current.pem`));
      // kubelet's self-signed serving pair, expired.
      const served = mint.selfSigned({
        subject: "/CN=worker-1@1700000000",
        notBefore: new Date(now - 400 * DAY),
        notAfter: new Date(now - 35 * DAY),
        profile: "server",
      });
      await write(`${pki}/kubelet.crt`, served.certPem);
      await write(`${pki}/kubelet.key`, served.keyPem);
      // YAML is a superset of JSON: the paths with their quotes and newline, exactly.
      await write(
        `${DIR}/kubelet.conf`,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server: "https://10.0.0.1:6443", "certificate-authority": `${pki}/ca.crt` } }],
          users: [{ name: "u", user: { "client-certificate": `${pki}/kubelet-client-current.pem`, "client-key": `${pki}/kubelet-client-current.pem` } }],
          contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
          "current-context": "x",
        }),
      );
      await write(`${DIR}/config.yaml`, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfig\n");
      await write(`${DIR}/kubelet.log`, "");
      await write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
      await writeProcess(root, {
        pid: 4242,
        exe: "/usr/bin/kubelet",
        argv: [
          "/usr/bin/kubelet",
          `--config=${DIR}/config.yaml`,
          `--kubeconfig=${DIR}/kubelet.conf`,
          `--cert-dir=${pki}`,
          `--root-dir=${DIR}/kubelet`,
          `--node-labels=node-role.kubernetes.io/worker=${SMUGGLE.replaceAll(",", "")}`,
          "--logtostderr=false",
          `--log-file=${DIR}/kubelet.log`,
          `--container-runtime-endpoint=unix://${DIR}/containerd.sock`,
        ],
      });
      // kubelet's filesystem, full, mounted at the hostile path (the mount table escapes it; the disk check reads it back).
      const kubeletRoot = await fixture.mountTmpfs(`${DIR}/kubelet`, { size: "1m" });
      await writeFile(join(kubeletRoot, "fill"), Buffer.alloc(1024 * 1024 - 64 * 1024));
      await fixture.writeMountinfo();

      const host = new RootedHost(root);
      const locator = new KubeletLocator(host, systemClock, 0);
      const checks: Check[] = [
        createKubeletConfigCheck(kubeletConfigSettings.parse({}, "checks.kubelet-config"), { kubelet: locator }),
        createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), { kubelet: locator }),
        createRuntimeCheck(runtimeSettings.parse({}, "checks.runtime"), { kubelet: locator }),
        createDiskCheck(diskSettings.parse({}, "checks.disk"), { kubelet: locator }),
      ];
      const state = new NodeState(checks, [], { consecutiveRuns: 1, holdMs: 0, flapTransitions: 100, flapWindowMs: 60_000 }, silentLog);
      const scheduler = new Scheduler(checks, { host, clock: systemClock, state, log: silentLog, logFor: () => silentLog, jitterRatio: 0 });
      const runs = await scheduler.runOnce();
      await scheduler.stop();
      const findings = runs.flatMap((r) => state.lastRun(r.check)?.findings ?? []);
      const reasons = carrying(findings);
      for (const expected of ["NodeLabelNotAllowed", "KubeletLogLocation", "ClientCertificateNotYetValid", "ServingCertificateExpired", "NodeFsAvailableLow"]) {
        assert.ok(
          reasons.includes(expected),
          `a ${expected} remedy built from the hostile path; got ${JSON.stringify(findings.map((f) => [f.reason, f.remedy]))}`,
        );
      }
      assert.ok((await assertPasteSafe(findings)) >= 10);
    } finally {
      mint.cleanup();
    }
  });

  it("unit names from the configuration: the kubelet check's disabled-unit remedy", async () => {
    const unit = `kubelet${SMUGGLE.replaceAll("\n", "")}.service`;
    const root = await fixtureRoot();
    try {
      await mkdir(join(root.root, "etc/systemd/system"), { recursive: true });
      await writeFile(join(root.root, "etc/systemd/system", unit), "[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n");
      const check = createKubeletCheck(kubeletTestSettings("http://127.0.0.1:1/healthz", { unit }), {
        kubelet: new KubeletLocator(new RootedHost(root.root), systemClock, 0),
      });
      const findings = await check.run(checkContext(root.root));
      await check.close?.();
      assert.ok(carrying(findings).includes("KubeletServiceDisabled"), JSON.stringify(findings));
      assert.ok((await assertPasteSafe(findings)) >= 2);
    } finally {
      await root.cleanup();
    }
  });

  it("condition types another client wrote on the Node: StaleNodeCondition's kubectl patch (the Foreign0'$(…)' incident)", async () => {
    const api = await FakeApiServer.start({ now: () => NOW });
    const healthz = await startHealthz();
    const h = await kubeletHarness("kubelet-outofdisk-after-upgrade", kubeletTestSettings(healthz.url));
    try {
      const heartbeat = "2026-06-02T08:00:00Z";
      api.seedNode("node-b", {
        conditions: [`Foreign0'$(pwned)'`, `Foreign1${SMUGGLE}`].map((type) => ({
          type,
          status: "True",
          reason: "X",
          message: "x",
          lastHeartbeatTime: heartbeat,
          lastTransitionTime: heartbeat,
        })),
      });
      api.seedLease("node-b", { renewTime: new Date(NOW - 5_000) });
      const { reader, close } = await kubeReaderFor(api, "node-b");
      try {
        const findings = await h.run({ cluster: reader as ClusterReader });
        assert.equal(carrying(findings).filter((r) => r === "StaleNodeCondition").length, 2, JSON.stringify(findings));
        assert.ok((await assertPasteSafe(findings)) >= 2);
      } finally {
        close();
      }
    } finally {
      await h.close();
      await healthz.close();
      await api.close();
    }
  });

  it("the runtime's unit and socket: every failure's remedy", async () => {
    const socket = `${DIR}/containerd.sock`;
    const base: RuntimeObservation = {
      endpoint: { endpoint: `unix://${socket}`, source: "kubelet flag --container-runtime-endpoint", socketPath: socket },
      requests: [],
      unit: {
        name: `containerd${SMUGGLE.replaceAll("\n", "")}.service`,
        state: { loaded: true, loadState: "masked", activeState: "inactive", subState: "dead", unitFileState: "masked" },
      },
      containerdConfigPath: `${DIR}/config.toml`,
    };
    const failure = (kind: ConstructorParameters<typeof GrpcError>[0], code?: number) => ({
      method: "Version" as const,
      error: code === undefined ? new GrpcError(kind, `${socket}: failed`) : Object.assign(new GrpcError(kind, `${socket}: failed`), { code }),
      timeoutMs: 2000,
    });
    const observations: RuntimeObservation[] = [
      { ...base, socketProblem: "does not exist" },
      ...(["missing", "refused", "timeout", "protocol", "closed"] as const).map((kind) => ({ ...base, failure: failure(kind) })),
      { ...base, failure: failure("status", 12) },
      { ...base, failure: failure("status", 2) },
      { ...base, conditions: [], imageFsFailure: new Error("x") },
    ];
    const findings = observations.flatMap((o) => judgeRuntime(o, { nodeName: `worker${SMUGGLE}` }));
    assert.ok(carrying(findings).length >= 8, JSON.stringify(findings.map((f) => [f.reason, f.remedy])));
    assert.ok((await assertPasteSafe(findings)) >= 15);
  });

  it("an address in kubelet's log: apiserver-unreachable's curl", async () => {
    const signature = SIGNATURES.find((s) => s.id === "apiserver-unreachable");
    assert.ok(signature?.kind === "problem");
    const findings = judgeLogs(
      [
        {
          signature,
          count: 3,
          atLeast: false,
          severity: "warning",
          lastMs: Date.now(),
          sample: "x",
          captures: { url: `https://h${SMUGGLE}`, address: SMUGGLE, error: "refused" },
        },
      ],
      { nowMs: Date.now(), flags: new Map(), certificateFindings: [], clockFindings: [] },
    );
    assert.ok(carrying(findings).length >= 1, JSON.stringify(findings));
    assert.ok((await assertPasteSafe(findings)) >= 1);
  });

  it("the kernel's lines: every kernel remedy with hostile devices, cgroups, pids and PCI addresses", async () => {
    const findings = judgeKernel(
      KERNEL_SIGNATURES.flatMap((signature) =>
        signature.kind === "problem"
          ? [
              {
                signature,
                count: 1,
                atLeast: false,
                severity: signature.severity,
                lastMs: Date.now(),
                sample: "x",
                captures: Object.fromEntries([...signature.remedy.matchAll(/\{(\w+)\}/g)].map((m) => [m[1] as string, SMUGGLE])),
              },
            ]
          : [],
      ),
      { oom: { kills: { global: 0, memcg: 0 }, recent: [] }, runtimeFindings: [] },
    );
    assert.ok(carrying(findings).length >= 5, JSON.stringify(findings.map((f) => f.remedy)));
    assert.ok((await assertPasteSafe(findings)) >= 5);
  });

  it("the clock jump's journalctl", async () => {
    const now = Date.now();
    const findings = judgeClock(
      { nowMs: now, monotonicMs: 1000, jump: { sizeMs: 600_000, beforeMs: now - 600_000, afterMs: now, seenAtMonotonicMs: 1000 } },
      {
        apiServerWarningMs: 1000,
        apiServerCriticalMs: 5000,
        ntpWarningMs: 1000,
        ntpCriticalMs: 5000,
        jumpReportMs: 60_000,
        notSynchronizedWarningMs: 600_000,
        expectSyncService: false,
      },
    );
    assert.ok(
      findings.some((f) => f.reason === "ClockJumped"),
      JSON.stringify(findings),
    );
    assert.ok((await assertPasteSafe(findings)) >= 1);
  });
});
