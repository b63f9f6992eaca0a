/**
 * CNI config files parsed as libcni does, containerd's CNI directories read
 * from its config.toml, and the runtime endpoint chosen as kubelet would.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { readCni } from "../../src/checks/network/gather.js";
import { chooseEndpoint, parseEndpoint } from "../../src/checks/runtime/gather.js";
import { cniDirsFromContainerdConfig, parseCniConfig } from "../../src/node/cni.js";
import { RootedHost } from "../../src/node/host.js";
import { DISTRIBUTIONS } from "../../src/node/distro/index.js";
import { composeConfigFiles } from "../../src/node/kubelet/config.js";
import { parseKubeletFlags, type KubeletSetup } from "../../src/node/kubelet/locator.js";
import type { ProcessInfo } from "../../src/node/proc.js";
import { fixtureRoot } from "../support/fixture-root.js";

describe("parseCniConfig", () => {
  const cases: Array<[string, string, string | RegExp | undefined, string[]]> = [
    [
      "/n/10-flannel.conflist",
      '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{}},{"type":"portmap"}]}',
      undefined,
      ["flannel", "portmap"],
    ],
    ["/n/10-bridge.conf", '{"name":"b","type":"bridge","ipam":{"type":"host-local"}}', undefined, ["bridge", "host-local"]],
    ["/n/99-loopback.json", '{"cniVersion":"0.3.1","type":"loopback"}', undefined, ["loopback"]],
    ["/n/10-x.conflist", '{"name":"x","plugins":[', /^is not valid JSON \(/, []],
    ["/n/10-x.conflist", '{"plugins":[{"type":"bridge"}]}', 'has no "name"', []],
    ["/n/10-x.conflist", '{"name":"x"}', 'has no "plugins" list', []],
    ["/n/10-x.conflist", '{"name":"x","plugins":[]}', 'has an empty "plugins" list', []],
    ["/n/10-x.conflist", '{"name":"x","plugins":[{"type":"bridge"},{"capabilities":{}}]}', 'plugins[1] has no "type"', []],
    ["/n/10-x.conflist", '{"name":"x","plugins":["bridge"]}', "plugins[0] is not an object", []],
    ["/n/10-x.conf", '{"name":"x","type":"../../bin/sh"}', /may not contain "\/"/, []],
    ["/n/10-x.conf", '{"name":"x","type":"bridge","ipam":{"type":""}}', 'the network.ipam has no "type"', []],
    ["/n/10-x.conf", "[1,2]", "is not a JSON object", []],
    ["/n/10-x.conf", "\u0000\u0001binary", /^is not valid JSON/, []],
  ];
  for (const [path, text, problem, types] of cases) {
    it(`${path} ${JSON.stringify(text.slice(0, 40))} → ${problem ?? "valid"}`, () => {
      const file = parseCniConfig(path, text);
      if (problem === undefined) assert.equal(file.problem, undefined);
      else if (typeof problem === "string") assert.equal(file.problem, problem);
      else assert.match(file.problem ?? "", problem);
      assert.deepEqual(file.pluginTypes, types);
    });
  }

  it("never throws on hostile text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom("/a.conf", "/a.conflist", "/a.json"), (text, path) => {
        const file = parseCniConfig(path, text);
        assert.ok(file.problem !== undefined || file.pluginTypes.length > 0);
      }),
      { numRuns: 300, seed: 20261125 },
    );
  });
});

describe("cniDirsFromContainerdConfig", () => {
  const path = "/etc/containerd/config.toml";
  it("reads conf_dir and bin_dir from the CRI plugin's cni table (version 2), ignoring comments", () => {
    const text = [
      "version = 2",
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      '  # bin_dir = "/nope"',
      '  bin_dir = "/home/kubernetes/bin"',
      '  conf_dir = "/etc/cni/net.d"',
    ].join("\n");
    assert.deepEqual(cniDirsFromContainerdConfig(path, text), { confDir: "/etc/cni/net.d", binDirs: ["/home/kubernetes/bin"] });
  });

  it("reads containerd 2's version 3 table and its bin_dirs list", () => {
    const text = 'version = 3\n[plugins."io.containerd.cri.v1.runtime".cni]\nbin_dirs = ["/opt/cni/bin", "/usr/libexec/cni"]\n';
    assert.deepEqual(cniDirsFromContainerdConfig(path, text), { binDirs: ["/opt/cni/bin", "/usr/libexec/cni"] });
  });

  it("reads version 1's plugins.cri table; a bin_dir elsewhere is not the CRI plugin's", () => {
    assert.deepEqual(cniDirsFromContainerdConfig(path, '[plugins.cri.cni]\nconf_dir = "/etc/k8s/cni"\n'), { confDir: "/etc/k8s/cni" });
    assert.deepEqual(cniDirsFromContainerdConfig(path, 'version = 2\n[plugins."io.containerd.other".cni]\nbin_dir = "/x"\n'), {});
  });

  it("bad TOML, an unknown version or a wrong type is a problem naming the file, never a throw", () => {
    assert.match(cniDirsFromContainerdConfig(path, "version = 2\n[plugins\n").problem ?? "", /^\/etc\/containerd\/config\.toml: /);
    assert.match(cniDirsFromContainerdConfig(path, "version = 9\n").problem ?? "", /version = 9; node-doctor reads containerd config versions 1 to 4/);
    assert.match(
      cniDirsFromContainerdConfig(path, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\nbin_dir = 3\n').problem ?? "",
      /bin_dir must be a string/,
    );
  });
});

describe("runtime endpoint", () => {
  const host = new RootedHost("/nonexistent-root-for-endpoint-tests");
  const kubelet = (args: string[], config?: Record<string, unknown>): KubeletSetup => ({
    process: { pid: 1234, comm: "kubelet", argv: ["/usr/bin/kubelet", ...args] } satisfies ProcessInfo,
    distribution: DISTRIBUTIONS.kubeadm([]),
    otherProcesses: [],
    ignored: [],
    flags: parseKubeletFlags(args),
    rootDir: "/var/lib/kubelet",
    configFiles: composeConfigFiles({
      ...(config ? { file: { path: "/var/lib/kubelet/config.yaml", ok: true as const, value: config } } : {}),
      fileFromFlag: config !== undefined,
      dropIns: [],
    }),
    ...(config ? { configPath: "/var/lib/kubelet/config.yaml", config: { path: "/var/lib/kubelet/config.yaml", ok: true as const, value: config } } : {}),
  });

  it("parses kubelet's endpoint forms", () => {
    assert.deepEqual(parseEndpoint("unix:///run/crio/crio.sock"), { socketPath: "/run/crio/crio.sock" });
    assert.deepEqual(parseEndpoint("/var/run/dockershim.sock"), { socketPath: "/var/run/dockershim.sock" });
    assert.match((parseEndpoint("npipe:////./pipe/containerd-containerd") as { problem: string }).problem, /uses npipe:\/\//);
    assert.match((parseEndpoint("unix://run/x.sock") as { problem: string }).problem, /no absolute socket path/);
    assert.match((parseEndpoint("containerd") as { problem: string }).problem, /is not an endpoint/);
  });

  it("kubelet's flag beats its config, and names its source", async () => {
    const choice = await chooseEndpoint(
      host,
      kubelet(["--container-runtime-endpoint", "unix:///run/crio/crio.sock"], { containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock" }),
      undefined,
    );
    assert.equal(choice.socketPath, "/run/crio/crio.sock");
    assert.equal(choice.source, "kubelet flag --container-runtime-endpoint");
  });

  it("kubelet's config when no flag; kubelet's default when neither", async () => {
    const fromConfig = await chooseEndpoint(host, kubelet([], { containerRuntimeEndpoint: "unix:///run/cri-dockerd.sock" }), undefined);
    assert.equal(fromConfig.socketPath, "/run/cri-dockerd.sock");
    assert.equal(fromConfig.source, "containerRuntimeEndpoint in /var/lib/kubelet/config.yaml");
    const byDefault = await chooseEndpoint(host, kubelet(["--config=/var/lib/kubelet/config.yaml"]), undefined);
    assert.equal(byDefault.socketPath, "/run/containerd/containerd.sock");
    assert.equal(byDefault.source, "kubelet's default endpoint");
  });

  it("the check's own setting beats kubelet", async () => {
    const choice = await chooseEndpoint(
      host,
      kubelet(["--container-runtime-endpoint=unix:///run/crio/crio.sock"]),
      "unix:///run/k3s/containerd/containerd.sock",
    );
    assert.equal(choice.socketPath, "/run/k3s/containerd/containerd.sock");
    assert.equal(choice.source, "checks.runtime.endpoint");
  });
});

describe("the network check reads CNI files where the runtime does", () => {
  it("on k3s: containerd's conf_dir under /var/lib/rancher, not /etc/cni/net.d", async () => {
    const node = await fixtureRoot("distro-k3s");
    try {
      const dir = join(node.root, "var/lib/rancher/k3s/agent/etc/cni/net.d");
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, "10-flannel.conflist"),
        '{"name":"cbr0","cniVersion":"1.0.0","plugins":[{"type":"flannel","delegate":{"hairpinMode":true}},{"type":"portmap"}]}',
      );
      const got = await readCni(new RootedHost(node.root), DISTRIBUTIONS.k3s([]).containerdConfig, undefined, AbortSignal.timeout(5000));
      assert.equal(got.cni?.file, "/var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist", JSON.stringify(got));
    } finally {
      await node.cleanup();
    }
  });
});
