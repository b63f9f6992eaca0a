/**
 * The one reader of kubelet's flags, config, drop-ins and kubeconfig: every
 * check asks it, so each question has one answer. Pure tables, no root.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { boolSetting, composeConfigFiles, configSource, mergePatch, parseYamlMapping, stringSetting } from "../../src/node/kubelet/config.js";
import { boolFlag, parseBool, parseKubeletFlags } from "../../src/node/kubelet/flags.js";
import { readKubeconfigText } from "../../src/node/kubelet/kubeconfig.js";
import { parseKubeconfig } from "../../src/checks/certificates/sources.js";
import { judgeKubeconfigText } from "../../src/checks/kubelet-config/rules.js";

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
    assert.ok(!certificates.ok && /no current-context/.test(certificates.problem), JSON.stringify(certificates));
    assert.ok(!config.ok && config.reason === "KubeconfigNoServer" && /no current-context/.test(config.problem));
  });

  it("a wrong type in an entry no context uses still fails the whole file, as client-go's decoder does", () => {
    const text = `${good}- name: other\n  user: {client-certificate: 5}\n`;
    const read = readKubeconfigText("/k", text);
    assert.ok(!read.ok && read.kind === "invalid" && /users\[1\]\.user\.client-certificate: expected a string/.test(read.problem));
  });
});
