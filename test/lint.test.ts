/** The project's lint rules, shown failing on a scratch tree with deliberately wrong imports. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { lint, RAW_TIMERS_ALLOWED } from "../scripts/lint.mjs";

describe("scripts/lint.mjs", () => {
  const roots: string[] = [];
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  async function tree(files: Record<string, string>): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "node-doctor-lint-"));
    roots.push(root);
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    return root;
  }

  it("passes on the project itself", async () => {
    assert.deepEqual(await lint(process.cwd()), []);
  });

  it("fails on an import up the layers, naming the file, the line and both layers", async () => {
    const root = await tree({
      "src/checks/disk/index.ts": "export const x = 1;\n",
      "src/node/host.ts": 'import type { Finding } from "../types.js";\nimport { x } from "../checks/disk/index.js";\n',
      "src/types.ts": "export type Finding = {};\n",
    });
    const problems = await lint(root);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0] ?? "", /^src\/node\/host\.ts:2: node\/ must not import checks\/ \(\.\.\/checks\/disk\/index\.js\)/);
  });

  it("fails when one check imports another check's folder", async () => {
    const root = await tree({
      "src/checks/disk/index.ts": "export const x = 1;\n",
      "src/checks/kubelet/index.ts": 'export { x } from "../disk/index.js";\n',
    });
    const problems = await lint(root);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0] ?? "", /src\/checks\/kubelet\/index\.ts:1: the kubelet check must not import the disk check/);
  });

  it("fails on a raw timer in a check or the engine, and passes it in src/time and the allow-list", async () => {
    const root = await tree({
      "src/types.ts": "export interface Clock {\n  setTimeout(callback: () => void, ms: number): TimerHandle;\n}\n",
      "src/checks/disk/gather.ts": "export const late = new Promise((resolve) => setTimeout(resolve, 1000));\n",
      "src/engine/scheduler.ts":
        'import type { Clock } from "../types.js";\nexport const signal = AbortSignal.timeout(2000);\nexport const fine = (clock: Clock) => clock.setTimeout(() => 0, 5);\n',
      "src/time/clock.ts": "export const timer = setTimeout(() => 0, 5);\n",
      "src/main/cli.ts": "export const force = setTimeout(() => 0, 5);\n",
    });
    const problems = await lint(root);
    assert.deepEqual(
      problems.map((p) => p.split(": ")[0]),
      ["src/checks/disk/gather.ts:1", "src/engine/scheduler.ts:2"],
    );
    assert.match(problems[0] ?? "", /wait through src\/time\/deadline\.ts .* on the injected clock/);
  });

  it("fails on a concurrent test that changes nf_conntrack_max, and passes it in test/exclusive/", async () => {
    const write = 'import { writeFileSync } from "node:fs";\nwriteFileSync("/proc/sys/net/netfilter/nf_conntrack_max", "64");\n';
    const root = await tree({ "test/checks/conntrack.test.ts": write, "test/exclusive/conntrack.exclusive.ts": write });
    const problems = await lint(root);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0] ?? "", /^test\/checks\/conntrack\.test\.ts:2: nf_conntrack_max is every namespace's limit.*belongs in test\/exclusive\//);
  });

  it("fails on --test-force-exit in a package script", async () => {
    const root = await tree({
      "package.json": JSON.stringify({ scripts: { test: "node --test --test-concurrency=4 --test-force-exit 'test/**/*.test.ts'" } }),
    });
    assert.deepEqual(await lint(root), [
      "package.json: scripts.test: no --test-force-exit: with concurrency it drops finished files' verdicts (nodejs/node#64833)",
    ]);
  });

  it("says why each file may hold a raw timer", () => {
    for (const [path, why] of Object.entries(RAW_TIMERS_ALLOWED)) assert.ok(why.length > 20 && existsSync(path), `${path}: ${why}`);
  });

  it("fails on a folder that is in no layer", async () => {
    const root = await tree({ "src/utils/misc.ts": 'import type { Finding } from "../types.js";\n', "src/types.ts": "export type Finding = {};\n" });
    assert.match((await lint(root)).join("\n"), /src\/utils is in no layer/);
  });

  it("fails on a numbered incident or a document outside the repository, in code and docs alike", async () => {
    // Spelled in pieces so that this file does not trip the rule it tests.
    const numbered = ["incident", "5"].join(" ");
    const design = ["DESIGN", "md"].join(".");
    const root = await tree({
      "src/types.ts": `/** A certificate from the future (${numbered}). */\nexport type Finding = {};\n`,
      "docs/runbooks/x.md": `See ${design}.\n`,
      "README.md": "See [the incidents](docs/incidents.md).\n",
    });
    const problems = await lint(root);
    assert.deepEqual(
      problems.map((p) => p.split(": ")[0]),
      ["src/types.ts:1", "docs/runbooks/x.md:1"],
    );
    assert.match(problems[0] ?? "", /refer to an incident by its name in docs\/incidents\.md/);
  });
});
