/**
 * The chart's host mounts against what the checks read, on every
 * distribution. Each distribution's node (test/support/distro-cases.ts, the
 * installers' own files) runs its checks healthy and then broken, through a
 * Host that records every node path they ask for; every one of those that
 * exists on that node must be visible in the rendered pod: under one of its
 * host mounts, with each symlink on the way (kubeadm's endpoint is under
 * /var/run, a link to /run). No path is listed here by hand: they come from
 * the code reading the fixtures, so a check that starts reading a new file,
 * or a distribution added with its fixture, is held to the chart at once.
 */
import assert from "node:assert/strict";
import { lstat, readFile, readlink, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { before, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import { DISTRO_CASES, type DistroCase } from "../support/distro-cases.js";
import { startDistroNode } from "../support/distro-node.js";
import { findObject, REPO, renderChart } from "../support/helm.js";
import { RecordingHost } from "../support/recording-host.js";

interface HostMount {
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
  propagation?: string;
  recursiveReadOnly?: string;
}

async function hostMounts(values: Record<string, unknown>): Promise<HostMount[]> {
  const ds = findObject((await renderChart(values)).objects, "DaemonSet") as unknown as DaemonSet;
  const spec = ds.spec?.template.spec;
  const container = spec?.containers.find((c) => c.name === "node-doctor");
  const out: HostMount[] = [];
  for (const volume of spec?.volumes ?? []) {
    if (!volume.hostPath) continue;
    const mount = container?.volumeMounts?.find((m) => m.name === volume.name);
    assert.ok(mount, `volume ${volume.name} is mounted`);
    out.push({
      hostPath: volume.hostPath.path,
      mountPath: mount.mountPath,
      readOnly: mount.readOnly === true,
      ...(mount.mountPropagation ? { propagation: mount.mountPropagation } : {}),
      ...(mount.recursiveReadOnly ? { recursiveReadOnly: mount.recursiveReadOnly } : {}),
    });
  }
  return out;
}

const under = (path: string, dir: string) => dir === "/" || path === dir || path.startsWith(`${dir}/`);

/** The mount a node path is seen through in the pod: the deepest one over it, at /host<path>. */
function covering(mounts: readonly HostMount[], nodePath: string): HostMount | undefined {
  return mounts.filter((m) => under(nodePath, m.hostPath)).sort((a, b) => b.hostPath.length - a.hostPath.length)[0];
}

/** What the checks need to see: node path → how they asked, and whether it is mounted by its own path (a directory or a link). */
type Needs = Map<string, { methods: Set<string>; directory: boolean }>;

/**
 * The node paths reading `nodePath` touches on this node: each symlink on
 * the way (the link itself) and the path it ends at, when it exists. A
 * readLink or lstat reads the last link itself, not where it points.
 */
async function touched(root: string, nodePath: string, methods: ReadonlySet<string>): Promise<string[]> {
  const linkOnly = [...methods].every((m) => m === "readLink" || m === "lstat");
  const out: string[] = [];
  let pending = nodePath.split("/").filter(Boolean);
  let done: string[] = [];
  for (let follows = 0; pending.length > 0; ) {
    const part = pending.shift() as string;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = `/${[...done, part].join("/")}`;
    let link: boolean;
    try {
      link = (await lstat(join(root, candidate))).isSymbolicLink();
    } catch {
      return out; // not on this node: a pod that does not see it sees the same
    }
    if (!link || (linkOnly && pending.length === 0)) {
      done.push(part);
      continue;
    }
    out.push(candidate);
    if (++follows > 40) return out;
    const target = await readlink(join(root, candidate));
    if (target.startsWith("/")) done = [];
    pending = [...target.split("/").filter(Boolean), ...pending];
  }
  out.push(`/${done.join("/")}`);
  return out;
}

/** Runs a distribution's checks healthy and broken (the disk check too), recording what they read. */
async function needsOf(c: DistroCase): Promise<Needs> {
  const node = await startDistroNode(c.spec);
  try {
    const recorders = [new RecordingHost(node.root)];
    await node.check({ host: recorders[0] as RecordingHost, disk: true });
    await c.breakage.apply(node);
    recorders.push(new RecordingHost(node.root));
    await node.check({ host: recorders[1] as RecordingHost, disk: true });
    const needs: Needs = new Map();
    for (const recorder of recorders)
      for (const [asked, methods] of recorder.asked)
        for (const path of await touched(node.root, asked, methods)) {
          const st = await lstat(join(node.root, path));
          // A symlink is mounted by its own path (a hostPath follows it): /var/run, not /var.
          const need = needs.get(path) ?? { methods: new Set<string>(), directory: st.isDirectory() || st.isSymbolicLink() };
          for (const m of methods) need.methods.add(m);
          needs.set(path, need);
        }
    return needs;
  } finally {
    await node.close();
  }
}

/** What each distribution's checks read, filled by the first suite, read by the second. */
const needs = new Map<string, Needs>();

describe("the chart's mounts show the agent every path each distribution's checks read", { concurrency: 3 }, () => {
  let byDefault: HostMount[];
  before(async () => {
    byDefault = await hostMounts({});
  });

  for (const c of DISTRO_CASES) {
    it(`${c.name}: every path read, healthy and broken, is under a read-only host mount`, { timeout: 120_000 }, async () => {
      const found = await needsOf(c);
      needs.set(c.name, found);
      assert.ok(found.size > 20, `the checks read the node (${found.size} paths)`);
      const unseen = [...found.keys()].filter((p) => !covering(byDefault, p));
      assert.deepEqual(unseen, [], `not visible in the pod: ${unseen.join(", ")}`);
      for (const [path, { methods }] of found) {
        const mount = covering(byDefault, path) as HostMount;
        assert.equal(mount.mountPath, mount.hostPath === "/" ? "/host" : `/host${mount.hostPath}`, `${mount.hostPath} is at /host${mount.hostPath}`);
        assert.equal(mount.readOnly, true, `${path} is read-only in the pod`);
        // A filesystem measured, or a socket's directory, may be mounted on the node after the agent started: the pod must follow.
        if (methods.has("statfs") || methods.has("local"))
          assert.equal(mount.propagation, "HostToContainer", `${path} (${[...methods].join(", ")}) is under ${mount.hostPath}, which must follow the node's mounts`);
      }
    });
  }

});

describe("with hostRootFsMount off (the hostPaths, kubeadm's layout)", () => {
  it("every other distribution's checks read files those paths miss, and docs/deploy.md lists them", async () => {
    assert.equal(needs.size, DISTRO_CASES.length, "every distribution ran");
    const narrow = await hostMounts({ hostRootFsMount: { enabled: false } });
    const rows: string[] = [];
    for (const c of DISTRO_CASES) {
      // "/" itself (the disk check compares devices with the node's root) is the one no narrow mount can give: said in prose.
      const missing = [...(needs.get(c.name) as Needs)].filter(([p]) => p !== "/" && !covering(narrow, p));
      if (c.spec.fixture !== "distro-kubeadm") assert.ok(missing.length > 0, `${c.name}: kubeadm's paths show everything?`);
      rows.push(`| ${c.name} | ${collapse(missing).map((p) => `\`${p}\``).join(", ") || "—"} |`);
    }
    const table = ["| Distribution | Read, and not under the default `hostPaths` |", "|---|---|", ...rows].join("\n");
    const docPath = join(REPO, "docs/deploy.md");
    const doc = await readFile(docPath, "utf8");
    const start = "<!-- narrow-mounts:start (generated by test/charts/host-mounts.test.ts; UPDATE_GOLDEN=1 to regenerate) -->";
    const end = "<!-- narrow-mounts:end -->";
    assert.ok(doc.includes(start) && doc.includes(end), "docs/deploy.md has the generated section's markers");
    const expected = `${doc.slice(0, doc.indexOf(start) + start.length)}\n${table}\n${doc.slice(doc.indexOf(end))}`;
    if (process.env["UPDATE_GOLDEN"] === "1") await writeFile(docPath, expected);
    assert.equal(await readFile(docPath, "utf8"), expected, "docs/deploy.md's narrow-mount table is out of date: regenerate with UPDATE_GOLDEN=1");
  });
});

/** Paths as the directories to mount for them: a file's directory, and nothing under another listed one. */
function collapse(paths: ReadonlyArray<[string, { directory: boolean }]>): string[] {
  const dirs = [...new Set(paths.map(([p, { directory }]) => (directory ? p : posix.dirname(p))))].sort();
  return dirs.filter((d) => !dirs.some((o) => o !== d && under(d, o)));
}
