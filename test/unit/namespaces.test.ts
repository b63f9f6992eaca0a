/** Host network namespace detection on node copies (links as a copy keeps them) and on this machine. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RootedHost } from "../../src/node/host.js";
import { networkNamespace } from "../../src/node/namespaces.js";

describe("networkNamespace", () => {
  const roots: string[] = [];
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  async function nodeCopy(selfNs: string | undefined, initNs: string | undefined): Promise<RootedHost> {
    const root = await mkdtemp(join(tmpdir(), "node-doctor-netns-"));
    roots.push(root);
    for (const [pid, ns] of [
      ["self", selfNs],
      ["1", initNs],
    ] as const) {
      await mkdir(join(root, "proc", pid, "ns"), { recursive: true });
      if (ns) await symlink(ns, join(root, "proc", pid, "ns", "net"));
    }
    return new RootedHost(root);
  }

  it("the same namespace link → host", async () => {
    assert.deepEqual(await networkNamespace(await nodeCopy("net:[4026531833]", "net:[4026531833]")), { host: true, via: "ns-link" });
  });

  it("another namespace → not host, naming both", async () => {
    const verdict = await networkNamespace(await nodeCopy("net:[4026532178]", "net:[4026531833]"));
    assert.equal(verdict.host, false);
    assert.match("detail" in verdict ? verdict.detail : "", /net:\[4026532178\] is not the host's net:\[4026531833\]/);
  });

  it("neither the links nor /proc/net readable → cannot tell, never host", async () => {
    const verdict = await networkNamespace(await nodeCopy(undefined, undefined));
    assert.equal(verdict.host, undefined);
    assert.match("detail" in verdict ? verdict.detail : "", /could not compare/);
  });

  it("on this machine the test runner is in the host's namespace", async () => {
    const verdict = await networkNamespace(new RootedHost("/"));
    assert.equal(verdict.host, true);
  });
});
