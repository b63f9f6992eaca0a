/**
 * The fast lane (`npm run test:unit`, test/unit/) needs neither root nor the
 * Debian packages scripts/test-setup.sh installs. Shown here by running the
 * lane's own command as `nobody`, with an empty environment and a PATH that
 * holds nothing but the pinned node binary: a unit test that spawned a tool,
 * needed root, or wrote outside its temp dir fails this test.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, chown, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { NODE } from "./support/cli.js";
import { requireTool } from "./support/tools.js";

const ROOT = new URL("../", import.meta.url).pathname;
const NOBODY = 65534;
/** The lane's promise: under a minute on the test machine. */
const LANE_LIMIT_MS = 60_000;

function runAs(uid: number, command: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs: number }) {
  return new Promise<{ code: number | null; output: string; timedOut: boolean }>((resolve, reject) => {
    const setpriv = requireTool("setpriv");
    const child = spawn(setpriv, [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--", command, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

/** Whether `nobody` can read the checkout where it is (a clone under /root cannot be). */
async function readableByNobody(dir: string): Promise<boolean> {
  const probe = `cd ${JSON.stringify(dir)} && test -r package.json && test -r node_modules/tsx/package.json && test -x test/unit`;
  return (await runAs(NOBODY, "/bin/sh", ["-c", probe], { cwd: "/", env: { PATH: "/usr/bin:/bin" }, timeoutMs: 10_000 })).code === 0;
}

describe("npm run test:unit", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("passes as nobody, without root, tools or Debian packages, within a minute, leaving nothing behind", { timeout: 3 * LANE_LIMIT_MS }, async () => {
    const { scripts } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const command = scripts["test:unit"];
    assert.ok(command, "package.json has a test:unit script");

    const scratch = await mkdtemp(join(tmpdir(), "node-doctor-unit-lane-"));
    dirs.push(scratch);
    const home = join(scratch, "home");
    const bin = join(scratch, "bin");
    await mkdir(home);
    await mkdir(bin);
    await symlink(NODE, join(bin, "node"));
    await chown(scratch, NOBODY, NOBODY);
    await chown(home, NOBODY, NOBODY);

    // The checkout as nobody sees it: in place when it can read it, else a copy it can (hard links where possible).
    let cwd = ROOT;
    if (!(await readableByNobody(ROOT))) {
      cwd = join(scratch, "checkout");
      await mkdir(cwd);
      for (const entry of ["package.json", "tsconfig.json", "src", "test", "node_modules"]) {
        await cp(join(ROOT, entry), join(cwd, entry), { recursive: true, verbatimSymlinks: true });
      }
      await access(join(cwd, "package.json"), constants.R_OK);
    }

    const started = performance.now();
    const result = await runAs(NOBODY, "/bin/sh", ["-c", command], {
      cwd,
      env: { PATH: bin, HOME: home, TMPDIR: home },
      timeoutMs: LANE_LIMIT_MS,
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const tail = result.output.split("\n").slice(-60).join("\n");
    assert.equal(result.timedOut, false, `the unit lane did not finish within ${LANE_LIMIT_MS / 1000} s:\n${tail}`);
    assert.equal(result.code, 0, `the unit lane failed as nobody after ${seconds} s:\n${tail}`);
    const tests = Number(/^ℹ tests (\d+)$/m.exec(result.output)?.[1] ?? 0);
    assert.ok(tests > 0, `the unit lane ran no tests:\n${tail}`);
    assert.match(result.output, /^ℹ fail 0$/m);
    // tsx keeps its compile cache in TMPDIR; anything else is a test that did not clean up.
    const left = (await readdir(home)).filter((name) => !/^tsx-\d+$/.test(name));
    assert.deepEqual(left, [], `the unit lane left these in its TMPDIR: ${left.join(", ")}`);
  });
});
