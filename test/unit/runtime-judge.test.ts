/**
 * judgeRuntime as a table: what the CRI calls, the socket and systemd said,
 * in; findings out. The real containerd, hung and dead sockets are in
 * test/checks/runtime.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEndpoint } from "../../src/checks/runtime/gather.js";
import { cniDiagnosis, judgeRuntime, runtimeUnitName, type RuntimeObservation } from "../../src/checks/runtime/judge.js";
import type { CniState } from "../../src/node/cni.js";
import { GrpcError } from "../../src/wire/grpc.js";
import type { Finding } from "../../src/types.js";

const SOCKET = "/run/containerd/containerd.sock";
const ENDPOINT = { endpoint: `unix://${SOCKET}`, source: "kubelet flag --container-runtime-endpoint", socketPath: SOCKET };
const VERSION = { version: "0.1.0", runtimeName: "containerd", runtimeVersion: "1.7.24", runtimeApiVersion: "v1" };
const READY = [
  { type: "RuntimeReady", status: true, reason: "", message: "" },
  { type: "NetworkReady", status: true, reason: "", message: "" },
];

function obs(extra: Partial<RuntimeObservation> = {}): RuntimeObservation {
  return { endpoint: ENDPOINT, version: VERSION, conditions: READY, runningContainers: 12, requests: [], ...extra };
}

const summary = (findings: Finding[]) => findings.map((f) => [f.reason, f.severity]);

interface Row {
  name: string;
  observation: RuntimeObservation;
  findings: Array<[string, string]>;
  message?: RegExp;
  remedy?: RegExp;
}

const rows: Row[] = [
  {
    name: "answers, ready: healthy with the container count",
    observation: obs(),
    findings: [["RuntimeHealthy", "ok"]],
    message: /\(CRI v1\) answers .*; 12 containers running\./,
  },
  {
    name: "an endpoint kubelet cannot use",
    observation: obs({ endpoint: { ...ENDPOINT, problem: "tcp:// endpoints are not supported" } }),
    findings: [["RuntimeEndpointInvalid", "critical"]],
    remedy: /--container-runtime-endpoint=unix:\/\/\/run\/containerd\/containerd\.sock/,
  },
  {
    name: "no runtime and nothing of kubelet's: not a node, ok",
    observation: obs({ socketProblem: "does not exist", endpoint: { ...ENDPOINT, noRuntime: true } }),
    findings: [["NoContainerRuntime", "ok"]],
  },
  {
    name: "the socket missing, its directory too",
    observation: obs({ socketProblem: "does not exist", socketDirMissing: "/run/containerd" }),
    findings: [["RuntimeSocketMissing", "critical"]],
    message: /containerd\.sock from kubelet flag --container-runtime-endpoint does not exist \(nor does \/run\/containerd\)/,
    remedy: /systemctl restart containerd.*hostPaths\.runtimeSocket\.path/s,
  },
  {
    name: "a dead daemon's socket: nothing listens",
    observation: obs({
      conditions: undefined,
      failure: { method: "Version", error: new GrpcError("refused", `${SOCKET}: connect ECONNREFUSED`), timeoutMs: 2000 },
    }),
    findings: [["RuntimeNotListening", "critical"]],
    message: /Nothing listens on the container runtime socket/,
  },
  {
    name: "accepts but never answers: unresponsive, PLEG",
    observation: obs({ conditions: undefined, failure: { method: "ListContainers", error: new GrpcError("timeout", "deadline"), timeoutMs: 2000 } }),
    findings: [["RuntimeUnresponsive", "critical"]],
    message: /did not answer CRI ListContainers within 2000 ms; .*PLEG is not healthy/,
    remedy: /kill -USR1 \$\(pidof containerd\)/,
  },
  {
    name: "permission denied: could not look",
    observation: obs({ conditions: undefined, failure: { method: "Version", error: new GrpcError("denied", "EACCES"), timeoutMs: 2000 } }),
    findings: [["RuntimeSocketDenied", "unknown"]],
  },
  {
    name: "not gRPC on the other end",
    observation: obs({ conditions: undefined, failure: { method: "Version", error: new GrpcError("protocol", `${SOCKET}: not HTTP/2`), timeoutMs: 2000 } }),
    findings: [["RuntimeEndpointNotCri", "critical"]],
  },
  {
    name: "RuntimeReady false",
    observation: obs({ conditions: [{ type: "RuntimeReady", status: false, reason: "Broken", message: "it broke" }, READY[1]!] }),
    findings: [["RuntimeNotReady", "critical"]],
    remedy: /journalctl -u containerd -n 100/,
  },
  {
    name: "NetworkReady missing counts as not ready, as in kubelet",
    observation: obs({ conditions: [READY[0]!] }),
    findings: [["RuntimeNetworkNotReady", "critical"]],
  },
  {
    name: "network ready but the CNI file the next restart reads is broken: a warning",
    observation: obs({
      cni: {
        confDir: "/etc/cni/net.d",
        binDirs: ["/opt/cni/bin"],
        files: [{ path: "/etc/cni/net.d/10-flannel.conflist", problem: "is not JSON", pluginTypes: [] }],
        missingPlugins: [],
      },
    }),
    findings: [["CniConfigInvalid", "warning"]],
    message: /10-flannel\.conflist is not JSON; .* the next restart of containerd will fail on it/,
  },
  {
    name: "ImageFsInfo failing after Status answered: a warning of its own",
    observation: obs({ imageFsFailure: new GrpcError("status", "unimplemented", 12) }),
    findings: [["RuntimeImageFsUnavailable", "warning"]],
  },
];

describe("judgeRuntime", () => {
  for (const row of rows) {
    it(row.name, () => {
      const findings = judgeRuntime(row.observation);
      assert.deepEqual(summary(findings), row.findings);
      assert.ok(findings.every((f) => f.condition === "ContainerRuntimeUnhealthy"));
      if (row.message) assert.match(findings[0]?.message ?? "", row.message);
      if (row.remedy) assert.match(findings[0]?.remedy ?? "", row.remedy);
    });
  }

  it("an aborted call has no finding: the run could not look", () => {
    const aborted = new GrpcError("aborted", "the run was cancelled");
    assert.throws(() => judgeRuntime(obs({ conditions: undefined, failure: { method: "Status", error: aborted, timeoutMs: 2000 } })), aborted);
  });
});

describe("runtime endpoints and units", () => {
  it("parseEndpoint takes unix sockets and names the problem with anything else", () => {
    assert.deepEqual(parseEndpoint("unix:///run/containerd/containerd.sock"), { socketPath: "/run/containerd/containerd.sock" });
    assert.deepEqual(parseEndpoint("/run/crio/crio.sock"), { socketPath: "/run/crio/crio.sock" });
    for (const bad of ["tcp://127.0.0.1:1234", "npipe:////./pipe/containerd", "unix://relative.sock", ""]) {
      assert.ok("problem" in parseEndpoint(bad), bad);
    }
  });

  it("runtimeUnitName guesses the unit from the runtime's name and socket", () => {
    const endpoint = (socketPath: string) => ({ endpoint: socketPath, source: "probe", socketPath });
    assert.equal(runtimeUnitName({ endpoint: endpoint("/run/containerd/containerd.sock") }), "containerd.service");
    assert.equal(runtimeUnitName({ endpoint: endpoint("/run/crio/crio.sock") }), "crio.service");
    assert.equal(runtimeUnitName({ endpoint: endpoint("/run/cri-dockerd.sock") }), "cri-docker.service");
    assert.equal(runtimeUnitName({ endpoint: endpoint("/run/k3s/containerd/containerd.sock") }), "k3s.service");
    assert.equal(runtimeUnitName({ endpoint: endpoint("/x.sock") }, "my-runtime.service"), "my-runtime.service");
  });
});

describe("cniDiagnosis: why the runtime's network is not ready, from the CNI files", () => {
  const FLANNEL = { path: "/etc/cni/net.d/10-flannel.conflist", name: "cbr0", pluginTypes: ["flannel", "portmap"] };
  const state = (extra: Partial<CniState>): CniState => ({ confDir: "/etc/cni/net.d", binDirs: ["/opt/cni/bin"], files: [], missingPlugins: [], ...extra });
  const rows: Array<[string, CniState | undefined, RegExp]> = [
    [
      "nothing read: the add-on's pod on this node",
      undefined,
      /^Check the network add-on's pod on this node \(`kubectl -n kube-system get pods -o wide --field-selector spec\.nodeName=.*`\) and its logs\.$/,
    ],
    [
      "the directory is missing",
      state({ confDirProblem: "does not exist" }),
      /^The CNI config directory \/etc\/cni\/net\.d does not exist: no network add-on has written its configuration/,
    ],
    ["the directory is empty", state({}), /holds no \.conf, \.conflist or \.json file/],
    [
      "a broken file before any valid one",
      state({ files: [{ path: "/etc/cni/net.d/05-bad.conf", problem: "is not valid JSON (Unexpected end of JSON input)", pluginTypes: [] }] }),
      /^\/etc\/cni\/net\.d\/05-bad\.conf is not valid JSON .*stops at a broken one: fix or remove \/etc\/cni\/net\.d\/05-bad\.conf \(no valid file remains in \/etc\/cni\/net\.d\)\.$/,
    ],
    [
      "a plugin binary is missing",
      state({ files: [FLANNEL], active: FLANNEL, missingPlugins: [{ file: FLANNEL.path, type: "flannel" }] }),
      /10-flannel\.conflist uses the plugin flannel, but it is not in \/opt\/cni\/bin .*\(\/opt\/cni\/bin\/flannel\)\.$/,
    ],
    [
      "the files look complete: back to the add-on",
      state({ files: [FLANNEL], active: FLANNEL }),
      /looks complete \(\/etc\/cni\/net\.d\/10-flannel\.conflist, plugins flannel, portmap present in \/opt\/cni\/bin\)/,
    ],
  ];
  for (const [name, cni, text] of rows) it(name, () => assert.match(cniDiagnosis(cni, "n1"), text));
});
