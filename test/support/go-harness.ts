/**
 * Builds a Go test harness offline, in GOPATH mode, from Debian's Go library
 * packages and files of the repository: a GOPATH of its own holds links to
 * what the harness needs (Debian ships some libraries without their /vN
 * import path), and the binary is cached by a hash of every source.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { requireTool } from "./tools.js";

const run = promisify(execFile);

export const GOCODE = "/usr/share/gocode";
/** Build outputs kept between runs live with the checkout's other caches, not in the machine's temp dir. */
const CACHE = join(fileURLToPath(new URL("../../", import.meta.url)), "node_modules/.cache/node-doctor");

export interface GoHarness {
  /** Names the binary and its cache directory. */
  name: string;
  /** Import paths Debian must provide under /usr/share/gocode/src, with the package that does. */
  libraries: Record<string, string>;
  /** Import paths to link to a Debian directory of another name: {"k8s.io/klog/v2": "k8s.io/klog"}. */
  aliases?: Record<string, string>;
  /** Repository directories or files copied into the GOPATH: {"<import path>": "<absolute path>"}. */
  copies: Record<string, string>;
  /** Import path of the main package. */
  main: string;
}

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  const nested = await Promise.all(entries.map((entry) => filesUnder(join(path, entry.name))));
  return nested.flat().sort();
}

const built = new Map<string, Promise<string>>();

export function buildGoHarness(harness: GoHarness): Promise<string> {
  let binary = built.get(harness.name);
  if (!binary) {
    binary = build(harness);
    built.set(harness.name, binary);
  }
  return binary;
}

async function build(harness: GoHarness): Promise<string> {
  requireTool("go");
  for (const [lib, pkg] of Object.entries(harness.libraries)) {
    if (!existsSync(join(GOCODE, "src", lib))) throw new Error(`${GOCODE}/src/${lib} is missing: run scripts/test-setup.sh (installs ${pkg})`);
  }
  const hash = createHash("sha256");
  for (const [importPath, source] of Object.entries(harness.copies).sort()) {
    for (const file of await filesUnder(source)) hash.update(`${importPath}\0${file.slice(source.length)}\0`).update(await readFile(file));
  }
  const dir = join(CACHE, `${harness.name}-${hash.digest("hex").slice(0, 16)}`);
  const out = join(dir, harness.name);
  if (existsSync(out)) return out;
  const gopath = await mkdtemp(join(tmpdir(), "node-doctor-gopath-"));
  try {
    for (const [alias, target] of Object.entries(harness.aliases ?? {})) {
      await mkdir(dirname(join(gopath, "src", alias)), { recursive: true });
      await symlink(join(GOCODE, "src", target), join(gopath, "src", alias));
    }
    for (const [importPath, source] of Object.entries(harness.copies)) {
      await mkdir(dirname(join(gopath, "src", importPath)), { recursive: true });
      await cp(source, join(gopath, "src", importPath), { recursive: true });
    }
    await mkdir(dir, { recursive: true });
    const partial = `${out}.${process.pid}`;
    await run("go", ["build", "-o", partial, "."], {
      cwd: join(gopath, "src", harness.main),
      // GOCACHE of our own: go needs one, and a CI environment may have no HOME to put it under.
      env: {
        ...process.env,
        GOPATH: `${gopath}:${GOCODE}`,
        GO111MODULE: "off",
        GOFLAGS: "",
        GOPROXY: "off",
        CGO_ENABLED: "0",
        GOCACHE: process.env["GOCACHE"] ?? join(CACHE, "go-build"),
      },
      timeout: 300_000,
    });
    await run("mv", [partial, out]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`building the ${harness.name} test harness failed: ${stderr.trim()}`);
  } finally {
    await rm(gopath, { recursive: true, force: true });
  }
  return out;
}
