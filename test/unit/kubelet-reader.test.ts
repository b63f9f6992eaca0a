/**
 * The one reader of kubelet's flags, config, drop-ins and kubeconfig: every
 * check asks it, so each question has one answer. Pure tables, no root.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { kubeconfigCredentials } from "../../src/kube/credentials.js";
import { boolSetting, composeConfigFiles, configSource, mergePatch, parseYamlMapping, stringSetting } from "../../src/node/kubelet/config.js";
import { boolFlag, parseBool, parseKubeletFlags } from "../../src/node/kubelet/flags.js";
import { readKubeconfigText } from "../../src/node/kubelet/kubeconfig.js";
import { parseKubeconfig } from "../../src/checks/certificates/sources.js";
import { judgeKubeconfigText } from "../../src/checks/kubelet-config/rules/kubeconfig.js";
import { kubeletNetworkSettings } from "../../src/node/kubelet/network.js";
import { cniDirs } from "../../src/node/cni.js";
import { containerdConfigFromText } from "../../src/node/containerd-config.js";

describe("kubelet's boolean flags, as pflag reads them (strconv.ParseBool)", () => {
  const rows: Array<[string, boolean | undefined]> = [
    ["1", true],
    ["t", true],
    ["T", true],
    ["true", true],
    ["TRUE", true],
    ["True", true],
    ["0", false],
    ["f", false],
    ["F", false],
    ["false", false],
    ["FALSE", false],
    ["False", false],
    ["yes", undefined],
    ["tRuE", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of rows) it(`${JSON.stringify(text)} → ${expected}`, () => assert.equal(parseBool(text), expected));

  it("--rotate-certificates=True is true for every reader", () => {
    const flags = parseKubeletFlags(["--rotate-certificates=True", "--fail-swap-on", "false"]);
    assert.equal(boolFlag(flags, "rotate-certificates"), true);
    assert.equal(boolSetting(flags, undefined, "rotate-certificates", "rotateCertificates", false).value, true);
    // A boolean flag never takes the next word: "false" is a positional argument here, as in pflag.
    assert.equal(boolFlag(flags, "fail-swap-on"), true);
    assert.deepEqual(flags.positional, ["false"]);
  });
});

describe("kubelet's config: --config, then --config-dir drop-ins as JSON merge patches, then flags", () => {
  const file = parseYamlMapping(
    "/etc/kubernetes/kubelet/config.yaml",
    "cgroupDriver: cgroupfs\nevictionHard:\n  memory.available: 100Mi\n  nodefs.available: 10%\nclusterDNS: [10.0.0.10]\n",
  );
  const d1 = parseYamlMapping("/etc/kubernetes/kubelet.conf.d/10-a.conf", "cgroupDriver: systemd\nevictionHard:\n  nodefs.available: 5%\n");
  const d2 = parseYamlMapping("/etc/kubernetes/kubelet.conf.d/20-b.conf", "clusterDNS: [169.254.20.10]\nevictionHard:\n  memory.available: null\n");
  const files = composeConfigFiles({ file, fileFromFlag: true, dropInDir: "/etc/kubernetes/kubelet.conf.d", dropIns: [d1, d2] });

  it("maps merge key by key, lists replace, null deletes", () => {
    assert.deepEqual(JSON.parse(JSON.stringify(files.merged)), {
      cgroupDriver: "systemd",
      evictionHard: { "nodefs.available": "5%" },
      clusterDNS: ["169.254.20.10"],
    });
  });

  it("names the drop-in that set a key, with its line; a flag beats them all", () => {
    assert.deepEqual(configSource(files, "cgroupDriver"), { path: "/etc/kubernetes/kubelet.conf.d/10-a.conf", value: "systemd", line: 1 });
    const none = parseKubeletFlags([]);
    assert.equal(
      stringSetting(none, files, "cgroup-driver", "cgroupDriver")?.source,
      "cgroupDriver: systemd in /etc/kubernetes/kubelet.conf.d/10-a.conf line 1",
    );
    const flag = parseKubeletFlags(["--cgroup-driver=cgroupfs"]);
    assert.deepEqual(stringSetting(flag, files, "cgroup-driver", "cgroupDriver"), { value: "cgroupfs", source: "--cgroup-driver=cgroupfs", from: "flag" });
  });

  it("drop-ins without --config (k3s, RKE2) are read all the same", () => {
    const only = composeConfigFiles({ fileFromFlag: false, dropInDir: "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d", dropIns: [d1] });
    assert.equal(only.merged["cgroupDriver"], "systemd");
  });

  it("a drop-in's __proto__ key stays data", () => {
    const hostile = parseYamlMapping("/d/99.conf", '"__proto__":\n  polluted: true\n');
    assert.ok(hostile.ok);
    mergePatch({}, hostile.value);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });
});

describe("kubeconfig: one reader, one answer", () => {
  const good = [
    "apiVersion: v1",
    "clusters:",
    "- name: c",
    "  cluster: {server: https://10.0.0.1:6443, certificate-authority: pki/ca.crt}",
    "contexts:",
    "- name: x",
    "  context: {cluster: c, user: u}",
    "current-context: x",
    "users:",
    "- name: u",
    "  user: {client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem, client-key: /var/lib/kubelet/pki/kubelet-client-current.pem}",
    "",
  ].join("\n");

  it("resolves the current context's server, CA (relative to the file) and client certificate", () => {
    const read = readKubeconfigText("/etc/kubernetes/kubelet.conf", good);
    assert.ok(read.ok);
    assert.equal(read.kubeconfig.server, "https://10.0.0.1:6443");
    assert.deepEqual(read.kubeconfig.certificateAuthority, { kind: "file", path: "/etc/kubernetes/pki/ca.crt" });
    assert.deepEqual(read.kubeconfig.clientCertificate, { kind: "file", path: "/var/lib/kubelet/pki/kubelet-client-current.pem" });
    assert.equal(read.kubeconfig.clientKey, undefined, "the key shares the certificate's file");
  });

  it("without current-context the certificates check and the config check agree: kubelet has no API server", () => {
    const text = good.replace("current-context: x\n", "");
    const certificates = parseKubeconfig(
      "/etc/kubernetes/kubelet.conf",
      parseYamlMapping("/k", text).ok ? (parseYamlMapping("/k", text) as { value: Record<string, unknown> }).value : {},
    );
    const config = judgeKubeconfigText("/etc/kubernetes/kubelet.conf", text);
    assert.ok(!certificates.ok && /current-context is not set/.test(certificates.problem), JSON.stringify(certificates));
    assert.ok(!config.ok && config.reason === "KubeconfigNoServer" && /current-context is not set/.test(config.problem));
  });

  it("the agent's own --kubeconfig gets the same answer: its credentials come from the same reader", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nd-kubeconfig-"));
    try {
      const path = join(dir, "kubeconfig");
      await writeFile(path, good.replace("current-context: x\n", ""));
      await assert.rejects(kubeconfigCredentials(path), /^KubeConfigError: kubeconfig .*: current-context is not set, so it names no API server$/);
      await writeFile(path, good.replace("current-context: x\n", "current-context: gone\n"));
      await assert.rejects(kubeconfigCredentials(path), /contexts: no entry named "gone" \(the current-context\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a wrong type in an entry no context uses still fails the whole file, as client-go's decoder does", () => {
    const text = `${good}- name: other\n  user: {client-certificate: 5}\n`;
    const read = readKubeconfigText("/k", text);
    assert.ok(!read.ok && read.kind === "invalid" && /users\[1\]\.user\.client-certificate: expected a string/.test(read.problem));
  });
});

describe("kubelet's network settings (clusterDNS, clusterDomain, --node-ip), through the one reader", () => {
  const files = (file: string | undefined, dropIns: Record<string, string> = {}) =>
    composeConfigFiles({
      ...(file !== undefined ? { file: parseYamlMapping("/etc/kubernetes/kubelet/config.json", file) } : {}),
      fileFromFlag: file !== undefined,
      dropInDir: "/etc/kubernetes/kubelet/config.json.d",
      dropIns: Object.entries(dropIns).map(([path, text]) => parseYamlMapping(path, text)),
    });

  it("a --config-dir drop-in's clusterDNS wins over the file's, and the source names the drop-in", () => {
    const got = kubeletNetworkSettings({
      flags: parseKubeletFlags([]),
      configFiles: files('{"clusterDNS": ["10.100.0.10"], "clusterDomain": "cluster.local"}', {
        "/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf": '{"clusterDNS": ["172.20.0.10"]}',
      }),
    });
    assert.deepEqual(got.servers, ["172.20.0.10"]);
    assert.equal(got.domain, "cluster.local");
    assert.equal(got.source, "kubelet's config /etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf, /etc/kubernetes/kubelet/config.json");
  });

  it("drop-ins alone, with no --config file (k3s, RKE2)", () => {
    const got = kubeletNetworkSettings({
      flags: parseKubeletFlags(["--config-dir=/var/lib/rancher/k3s/agent/etc/kubelet.conf.d"]),
      configFiles: files(undefined, {
        "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf": "clusterDNS:\n  - 10.43.0.10\nclusterDomain: cluster.local.\n",
      }),
    });
    assert.deepEqual(got, {
      servers: ["10.43.0.10"],
      domain: "cluster.local",
      nodeIPs: [],
      source: "kubelet's config /var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf",
    });
  });

  it("the flags beat the config; --node-ip is canonical and drops the any-address", () => {
    const got = kubeletNetworkSettings({
      flags: parseKubeletFlags(["--cluster-dns=10.96.0.10, fd00::a", "--cluster-domain=corp.local", "--node-ip=10.0.0.5,0.0.0.0,fd00:0:0::5"]),
      configFiles: files('{"clusterDNS": ["10.100.0.10"], "clusterDomain": "cluster.local"}'),
    });
    assert.deepEqual(got, {
      servers: ["10.96.0.10", "fd00::a"],
      domain: "corp.local",
      nodeIPs: ["10.0.0.5", "fd00::5"],
      source: "kubelet's --cluster-dns/--cluster-domain flags",
    });
  });

  it("neither set: no servers, the config file named as where it was looked for", () => {
    const got = kubeletNetworkSettings({ flags: parseKubeletFlags([]), configFiles: files("{}"), configPath: "/var/lib/kubelet/config.yaml" });
    assert.deepEqual(got, { servers: [], nodeIPs: [], source: "kubelet's config /var/lib/kubelet/config.yaml" });
  });
});

describe("where the runtime reads CNI files (cniDirs)", () => {
  const config = (text: string) => containerdConfigFromText("/var/lib/rancher/k3s/agent/etc/containerd/config.toml", text);
  const rows: Array<[string, Parameters<typeof cniDirs>, ReturnType<typeof cniDirs>]> = [
    ["no containerd config read", [undefined], { confDir: "/etc/cni/net.d", binDirs: ["/opt/cni/bin"] }],
    [
      "k3s's conf_dir and bin_dirs",
      [
        config(
          'version = 3\n[plugins."io.containerd.cri.v1.runtime".cni]\n  bin_dirs = ["/var/lib/rancher/k3s/data/cni"]\n  conf_dir = "/var/lib/rancher/k3s/agent/etc/cni/net.d"\n',
        ),
      ],
      { confDir: "/var/lib/rancher/k3s/agent/etc/cni/net.d", binDirs: ["/var/lib/rancher/k3s/data/cni"] },
    ],
    [
      "the setting beats containerd's",
      [config('version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\nconf_dir = "/etc/k8s/cni"\n'), { confDir: "/custom/net.d" }],
      { confDir: "/custom/net.d", binDirs: ["/opt/cni/bin"] },
    ],
    [
      "a config node-doctor cannot use: the defaults, and why",
      [config("version = 2\n[plugins\n")],
      { confDir: "/etc/cni/net.d", binDirs: ["/opt/cni/bin"], problem: "" },
    ],
  ];
  for (const [name, args, expected] of rows)
    it(name, () => {
      const got = cniDirs(...args);
      if (expected.problem !== undefined) {
        assert.match(got.problem ?? "", /^\/var\/lib\/rancher\/k3s\/agent\/etc\/containerd\/config\.toml: /);
        assert.deepEqual({ ...got, problem: "" }, expected);
      } else assert.deepEqual(got, expected);
    });
});
