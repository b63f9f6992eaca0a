/**
 * The Dockerfile, checked without a Docker daemon (none runs here): its
 * instructions, its pinned base against the project's pinned Node.js, and its
 * build context — the files .dockerignore lets through are copied to a
 * directory and built with the Dockerfile's own command, and the bundle runs
 * alone, as it does in the image.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { AGENT_NODE_FLAGS } from "../../scripts/node-flags.mjs";
import { REPO } from "../support/helm.js";

const run = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  const out: Instruction[] = [];
  let stage = -1;
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Z]+)\s+(.*)$/.exec(line);
    assert.ok(match, `not an instruction: ${line}`);
    const keyword = match[1] ?? "";
    if (keyword === "FROM") stage++;
    out.push({ keyword, args: (match[2] ?? "").trim(), stage });
  }
  return out;
}

/** Docker's pattern syntax (Go's filepath.Match plus `**`): `*` also matches names starting with a dot. */
function globRegExp(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\u0000").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]").replaceAll("\u0000", ".*");
  return new RegExp(`^${source}$`);
}

function matchesGlob(path: string, glob: string): boolean {
  return globRegExp(glob).test(path);
}

/** .dockerignore semantics: patterns in order, the last match wins, `!` re-includes. */
function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const pattern of patterns) {
    const negate = pattern.startsWith("!");
    const glob = (negate ? pattern.slice(1) : pattern).replace(/\/$/, "");
    // A pattern matching a directory matches everything under it.
    const parts = path.split("/");
    const hit = parts.some((_, i) => matchesGlob(parts.slice(0, i + 1).join("/"), glob));
    if (hit) ignored = !negate;
  }
  return ignored;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === ".git" || entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

describe("Dockerfile", () => {
  let instructions: Instruction[];
  let ignore: string[];
  before(async () => {
    instructions = parseDockerfile(await readFile(join(REPO, "Dockerfile"), "utf8"));
    ignore = (await readFile(join(REPO, ".dockerignore"), "utf8")).split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  });

  it("is multi-stage on a Node.js base pinned to the project's Node version", async () => {
    const lock = JSON.parse(await readFile(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    const pinned = lock.packages["node_modules/node"]?.version;
    assert.match(pinned ?? "", /^24\.\d+\.\d+$/, "package-lock pins node 24");
    const froms = instructions.filter((i) => i.keyword === "FROM").map((i) => i.args);
    assert.ok(froms.length >= 2, "a build stage and a runtime stage");
    for (const from of froms) assert.match(from, new RegExp(`^node:${pinned?.replaceAll(".", "\\.")}-slim( AS \\w+)?$`), `${from} is pinned to node ${pinned}`);
  });

  it("builds with dev dependencies; the runtime stage holds Node.js, the bundle and journalctl", () => {
    const last = Math.max(...instructions.map((i) => i.stage));
    const runs = instructions.filter((i) => i.keyword === "RUN");
    const build = runs.find((r) => /scripts\/build\.mjs/.test(r.args));
    assert.ok(build && build.stage < last, "the bundle is built in an earlier stage");
    assert.ok(runs.some((r) => r.stage === build.stage && /^npm ci\b/.test(r.args) && !/--omit=dev/.test(r.args)), "the build stage installs the dev dependencies");
    const finalCopies = instructions.filter((i) => i.stage === last && i.keyword === "COPY");
    assert.deepEqual(
      finalCopies.map((c) => c.args),
      ["--from=build /src/dist/node-doctor.mjs ./dist/node-doctor.mjs", "--from=build /src/dist/chunks/ ./dist/chunks/"],
      "the runtime stage copies the bundle and its chunks, nothing else",
    );
    assert.ok(!instructions.some((i) => i.stage === last && i.keyword === "RUN" && /npm (ci|install)/.test(i.args)), "no npm install in the runtime stage");
    // The kubelet-logs check follows the host's journal with journalctl (Debian's systemd package).
    assert.ok(instructions.some((i) => i.stage === last && i.keyword === "RUN" && /apt-get install[^&]*\bsystemd\b/.test(i.args)), "the runtime stage installs journalctl");
  });

  it("runs the agent with the V8 flags and --host-root /host, and has no HEALTHCHECK", () => {
    const entrypoint = instructions.filter((i) => i.keyword === "ENTRYPOINT");
    const cmd = instructions.filter((i) => i.keyword === "CMD");
    assert.equal(entrypoint.length, 1);
    assert.equal(cmd.length, 1);
    assert.deepEqual(JSON.parse(entrypoint[0]?.args ?? ""), ["node", ...AGENT_NODE_FLAGS, "/app/dist/node-doctor.mjs"]);
    assert.deepEqual(JSON.parse(cmd[0]?.args ?? ""), ["run", "--host-root=/host"]);
    assert.ok(!instructions.some((i) => i.keyword === "HEALTHCHECK"), "Kubernetes probes do that");
  });

  it("every file it copies from the context is in the context", async () => {
    for (const copy of instructions.filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from="))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        await stat(join(REPO, source));
        assert.ok(!dockerIgnored(ignore, source.replace(/\/$/, "")), `${source} is not excluded by .dockerignore`);
      }
    }
  });

  it(".dockerignore keeps node_modules, dist, tests and git out of the context", () => {
    for (const path of ["node_modules/fastify/package.json", "dist/node-doctor.mjs", "test/cli.test.ts", ".git/config", "charts/node-doctor/values.yaml", "bench/run.ts"]) {
      assert.ok(dockerIgnored(ignore, path), `${path} is excluded`);
    }
    for (const path of ["src/main/cli.ts", "scripts/build.mjs", "package-lock.json"]) assert.ok(!dockerIgnored(ignore, path), `${path} is included`);
  });

  describe("the build context builds", () => {
    let context: string;
    before(async () => {
      context = await mkdtemp(join(tmpdir(), "node-doctor-image-context-"));
      for await (const path of walk(REPO)) {
        const rel = relative(REPO, path);
        if (!dockerIgnored(ignore, rel)) await cp(path, join(context, rel), { recursive: true });
      }
      // `npm ci` is the registry's business; the installed tree stands in for it.
      await symlink(join(REPO, "node_modules"), join(context, "node_modules"));
    });
    after(async () => {
      await rm(context, { recursive: true, force: true });
    });

    it("with the build stage's command, into a bundle that runs with the entrypoint's flags", async () => {
      const build = instructions.find((i) => i.keyword === "RUN" && /scripts\/build\.mjs/.test(i.args));
      assert.equal(build?.args, "node scripts/build.mjs");
      await run(process.execPath, ["scripts/build.mjs"], { cwd: context, timeout: 120_000 });
      // As in the image: the bundle alone in /app/dist, no node_modules anywhere above it.
      const app = await mkdtemp(join(tmpdir(), "node-doctor-image-app-"));
      try {
        await mkdir(join(app, "dist"));
        await copyFile(join(context, "dist/node-doctor.mjs"), join(app, "dist/node-doctor.mjs"));
        await cp(join(context, "dist/chunks"), join(app, "dist/chunks"), { recursive: true, filter: (source) => !source.endsWith(".map") });
        const bundle = join(app, "dist/node-doctor.mjs");
        const { stdout } = await run(process.execPath, [...AGENT_NODE_FLAGS, bundle, "version"], { cwd: app, timeout: 30_000 });
        const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
        assert.match(stdout, new RegExp(pkg.version.replaceAll(".", "\\.")));
        // A whole diagnosis, which loads the config reader, every check and the report.
        // `check` exits 1 or 2 on a warning or critical finding: a rejection that still printed a diagnosis.
        const check = await run(process.execPath, [...AGENT_NODE_FLAGS, bundle, "check", `--host-root=${app}`, "--output=json", "--log-format=pretty", "--log-level=debug"], { cwd: app, timeout: 60_000 }).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
        );
        assert.ok(check.code >= 0 && check.code <= 2, `check exited ${check.code}: ${check.stderr}`);
        assert.ok(Array.isArray((JSON.parse(check.stdout) as { findings?: unknown }).findings));
        // --log-format pretty loaded pino-pretty from the chunks: lines for a person, not JSON.
        assert.match(check.stderr, /^\[\d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN)/m);
      } finally {
        await rm(app, { recursive: true, force: true });
      }
    });
  });
});
