/** kubelet's command line as systemd would build it from unit files, drop-ins and environment files. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { RootedHost } from "../../src/node/host.js";
import { expandCommand, flagSources, parseEnvironmentFile, readUnitCommand, splitWords } from "../../src/node/unit-file.js";
import { fixtureRoot } from "../support/fixture-root.js";

async function root(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-unit-"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

describe("systemd unit command line", () => {
  it("kubeadm's layout: unit, 10-kubeadm.conf, kubeadm-flags.env and /etc/default/kubelet", async (t) => {
    const fixture = await fixtureRoot("refused-flags-crashloop");
    t.after(() => fixture.cleanup());
    const unit = await readUnitCommand(new RootedHost(fixture.root), "kubelet.service");
    assert.deepEqual(unit?.argv, [
      "/usr/bin/kubelet",
      "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
      "--kubeconfig=/etc/kubernetes/kubelet.conf",
      "--config=/var/lib/kubelet/config.yaml",
      "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
      "--pod-infra-container-image=registry.k8s.io/pause:3.9",
      "--node-labels=node-role.kubernetes.io/worker=,node.kubernetes.io/pool=batch",
      "--node-status-max-images=-5",
    ]);
    assert.deepEqual(unit?.environmentFiles, ["/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet"]);
    assert.deepEqual(unit?.problems, []);
    assert.deepEqual(flagSources(unit?.sources ?? [], ["kubeconfig", "container-runtime-endpoint", "node-labels", "v"]), {
      kubeconfig: "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
      "container-runtime-endpoint": "/var/lib/kubelet/kubeadm-flags.env",
      "node-labels": "/etc/default/kubelet",
    });
  });

  it("an /etc drop-in overrides a /lib one of the same name; continuations; a required env file missing", async () => {
    const dir = await root({
      "lib/systemd/system/kubelet.service": "[Service]\nExecStart=/usr/bin/kubelet --v=2\n",
      "lib/systemd/system/kubelet.service.d/20-x.conf": "[Service]\nEnvironment=X=--from-lib\n",
      "etc/systemd/system/kubelet.service.d/20-x.conf": '[Service]\nEnvironment="X=--from-etc --two"\nEnvironmentFile=/etc/missing.env\n',
      "etc/systemd/system/kubelet.service.d/30-exec.conf": "[Service]\nExecStart=\nExecStart=-/usr/local/bin/kubelet \\\n  $X \\\n  --name=${X}\n",
    });
    try {
      const unit = await readUnitCommand(new RootedHost(dir), "kubelet.service");
      assert.deepEqual(unit?.argv, ["/usr/local/bin/kubelet", "--from-etc", "--two", "--name=--from-etc --two"]);
      assert.deepEqual(unit?.unitFiles, [
        "/lib/systemd/system/kubelet.service",
        "/etc/systemd/system/kubelet.service.d/20-x.conf",
        "/etc/systemd/system/kubelet.service.d/30-exec.conf",
      ]);
      assert.match(unit?.problems[0] ?? "", /EnvironmentFile \/etc\/missing\.env does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("no unit at all", async () => {
    const dir = await root({});
    try {
      assert.equal(await readUnitCommand(new RootedHost(dir), "kubelet.service"), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("words, environment files and expansion", () => {
    assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g`), ["a", "b c", "d e", "f g"]);
    assert.deepEqual(
      [...parseEnvironmentFile('# c\nA="x y"\nexport B=plain\nC=\'lit $x\'\nbad line\nD="esc \\"q\\""\n')],
      [
        ["A", "x y"],
        ["B", "plain"],
        ["C", "lit $x"],
        ["D", 'esc "q"'],
      ],
    );
    assert.deepEqual(expandCommand("kubelet $A ${A} $MISSING --x=${MISSING}", new Map([["A", "--a --b"]])), ["kubelet", "--a", "--b", "--a --b", "--x="]);
  });
});
