import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubeletArgs, parseKubeletFlags, parseYamlMapping } from "../../src/node/kubelet/locator.js";
import { isReadOnly, mountFor, parseMountinfo } from "../../src/node/mountinfo.js";
import { parseBootTime, parseCmdline, parseStartTicks } from "../../src/node/proc.js";

describe("/proc parsers", () => {
  it("splits cmdline on NUL, tolerating a missing final NUL and NULs only", () => {
    assert.deepEqual(parseCmdline("/usr/bin/kubelet\0--v=2\0"), ["/usr/bin/kubelet", "--v=2"]);
    assert.deepEqual(parseCmdline("/usr/bin/kubelet\0--v=2"), ["/usr/bin/kubelet", "--v=2"]);
    assert.deepEqual(parseCmdline("\0\0\0"), ["", "", ""]);
  });

  it("reads the start time past a comm holding spaces and parens", () => {
    const stat = "4242 (kube let) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 10 5 0 0 20 0 12 0 123456 0 0";
    assert.equal(parseStartTicks(stat), 123456);
    assert.equal(parseStartTicks("garbage"), undefined);
    assert.equal(parseBootTime("cpu  1 2 3\nbtime 1795500000\nprocesses 9\n"), 1795500000);
  });
});

describe("mountinfo", () => {
  const text = [
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
    "30 22 254:2 / /var/lib/kubelet ro,relatime shared:2 - xfs /dev/vdb rw",
    "31 22 0:45 / /mnt/with\\040space rw - tmpfs tmpfs rw,size=4096k",
    "not a mountinfo line",
  ].join("\n");

  it("parses entries, decodes octal escapes and reports malformed lines", () => {
    const { mounts, errors } = parseMountinfo(text);
    assert.equal(mounts.length, 3);
    assert.equal(mounts[2]?.mountPoint, "/mnt/with space");
    assert.deepEqual(errors, ["line 4: not a mountinfo entry"]);
  });

  it("finds the mount holding a path and its read-only flag", () => {
    const { mounts } = parseMountinfo(text);
    assert.equal(mountFor(mounts, "/var/lib/kubelet/pods/x")?.mountPoint, "/var/lib/kubelet");
    assert.equal(mountFor(mounts, "/var/lib/kubeletx")?.mountPoint, "/");
    assert.equal(isReadOnly(mountFor(mounts, "/var/lib/kubelet")!), true);
    assert.equal(isReadOnly(mountFor(mounts, "/etc")!), false);
  });
});

describe("kubelet flags", () => {
  it("parses --flag=value, --flag value and boolean flags as pflag does", () => {
    const flags = parseKubeletFlags([
      "--config=/var/lib/kubelet/config.yaml",
      "--kubeconfig",
      "/etc/kubernetes/kubelet.conf",
      "--rotate-certificates",
      "--node-ip",
      "10.0.0.7",
      "--logtostderr=false",
      "-v=2",
      "--require-kubeconfig",
      "--node-labels=a=b,c=d",
    ]);
    assert.equal(flags.values.get("config"), "/var/lib/kubelet/config.yaml");
    assert.equal(flags.values.get("kubeconfig"), "/etc/kubernetes/kubelet.conf");
    assert.equal(flags.values.get("rotate-certificates"), "true");
    assert.equal(flags.values.get("node-ip"), "10.0.0.7");
    assert.equal(flags.values.get("logtostderr"), "false");
    assert.equal(flags.values.get("v"), "2");
    assert.equal(flags.values.get("require-kubeconfig"), "true");
    assert.equal(flags.values.get("node-labels"), "a=b,c=d");
    assert.deepEqual(flags.positional, []);
  });

  it("skips hyperkube's subcommand", () => {
    assert.deepEqual(kubeletArgs(["/hyperkube", "kubelet", "--v=2"]), ["--v=2"]);
    assert.deepEqual(kubeletArgs(["/usr/bin/kubelet", "--v=2"]), ["--v=2"]);
  });

  it("explains YAML that is not a mapping, binary data, and syntax errors with a line", () => {
    assert.deepEqual(parseYamlMapping("/c.yaml", "- a\n- b\n"), { path: "/c.yaml", ok: false, problem: "/c.yaml: is a list, expected a mapping" });
    assert.deepEqual(parseYamlMapping("/c.yaml", "\0\x01\x02"), { path: "/c.yaml", ok: false, problem: "/c.yaml: binary data, not YAML" });
    assert.deepEqual(parseYamlMapping("/c.yaml", ""), { path: "/c.yaml", ok: false, problem: "/c.yaml: is empty" });
    const broken = parseYamlMapping("/c.yaml", "a: 1\n  b: 2\n");
    assert.equal(broken.ok, false);
    assert.match(broken.ok ? "" : broken.problem, /^\/c\.yaml: invalid YAML \(line \d+: /);
  });
});
