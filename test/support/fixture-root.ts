/**
 * Fixture host roots: a committed tree under test/fixtures/<case>/ copied to a
 * temp dir per test, optionally with real tmpfs mounts inside it (tests run as
 * root), and the node's /proc/1/mountinfo written from the kernel's own lines
 * for those mounts.
 *
 * A case holds only what makes it that case: its `fixture.json` names the
 * fixture it is laid over (`over`, that fixture's own recipe followed first),
 * the base's node paths it does not have (`without`), and single files taken
 * from another fixture (`files`: node path → "<fixture>/<path>", the real
 * published file a base fixture holds). Its SOURCES.md says where each file
 * comes from; neither file is part of the node's tree.
 */
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** A fixture's fixture.json: how its tree is made from other fixtures' before its own files go on top. */
export interface FixtureRecipe {
  over?: string;
  without?: string[];
  files?: Record<string, string>;
}

/** Files of a fixture's folder that describe it rather than the node. */
const NOT_THE_NODE = new Set(["SOURCES.md", "fixture.json"]);

export async function fixtureRecipe(name: string): Promise<FixtureRecipe | undefined> {
  let text: string;
  try {
    text = await readFile(join(FIXTURES, name, "fixture.json"), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as FixtureRecipe;
}

/** Writes fixture `name`'s node tree into `root`: its base first (recursively), then what it removes, takes and holds. */
export async function composeFixture(name: string, root: string, chain: readonly string[] = []): Promise<void> {
  if (chain.includes(name)) throw new Error(`test/fixtures: ${[...chain, name].join(" → ")} is laid over itself`);
  const dir = join(FIXTURES, name);
  const recipe = await fixtureRecipe(name);
  if (recipe?.over) await composeFixture(recipe.over, root, [...chain, name]);
  for (const nodePath of recipe?.without ?? []) await rm(join(root, nodePath), { recursive: true, force: true });
  for (const [nodePath, source] of Object.entries(recipe?.files ?? {})) {
    await mkdir(dirname(join(root, nodePath)), { recursive: true });
    await cp(join(FIXTURES, source), join(root, nodePath), { verbatimSymlinks: true });
  }
  await cp(dir, root, { recursive: true, verbatimSymlinks: true, filter: (src) => !(dirname(src) === dir && NOT_THE_NODE.has(src.slice(dir.length + 1))) });
}

export interface FixtureRoot {
  root: string;
  /** Mounts a tmpfs at a node path inside the root; undone by cleanup(). */
  mountTmpfs(nodePath: string, options: { size: string; inodes?: number; readOnly?: boolean }): Promise<string>;
  /**
   * Mounts a fresh ext4 image through a loop device at a node path inside the
   * root (mount options as given); undone by cleanup(), which also detaches
   * the loop device and deletes the image.
   */
  mountExt4Loop(nodePath: string, options: { sizeMiB: number; options: string }): Promise<{ dir: string; device: string }>;
  /** Bind-mounts a path of the test machine (its /sys/fs/ext4/<dev>) at the same node path inside the root; undone by cleanup(). */
  bindFromHost(path: string): Promise<void>;
  /** Writes /proc/1/mountinfo: a root entry plus the kernel's lines for our tmpfs mounts, re-rooted. */
  writeMountinfo(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Copies fixture `name` (if any) to a temp dir. With `tmpfsRoot`, the root
 * itself is a tmpfs, so "/" of the fixture node does not depend on how full
 * the test machine's disk is. With `over`, fixture `name` is an overlay:
 * the base fixture is copied first, `without` removed from it, then `name`
 * copied on top (a CRI-O node is kubeadm's files without containerd's).
 */
export async function fixtureRoot(name?: string, options: { tmpfsRoot?: boolean; over?: string; without?: readonly string[] } = {}): Promise<FixtureRoot> {
  const root = await mkdtemp(join(tmpdir(), `node-doctor-${name ?? "root"}-`));
  const mounted: string[] = [];
  const loops: Array<{ device: string; image: string }> = [];
  if (options.tmpfsRoot) {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m,nr_inodes=10000", "tmpfs", root], { stdio: "pipe" });
    mounted.push(root);
  }
  if (options.over) {
    await composeFixture(options.over, root);
    for (const nodePath of options.without ?? []) await rm(join(root, nodePath), { recursive: true, force: true });
  }
  if (name) await composeFixture(name, root);
  const fixture: FixtureRoot = {
    root,
    async mountTmpfs(nodePath, options) {
      const dir = join(root, nodePath);
      await mkdir(dir, { recursive: true });
      // The mount hides what the fixture has there: set it aside, and put it on the tmpfs.
      const aside = await mkdtemp(join(tmpdir(), "node-doctor-aside-"));
      await cp(dir, aside, { recursive: true, verbatimSymlinks: true });
      const opts = [`size=${options.size}`, ...(options.inodes ? [`nr_inodes=${options.inodes}`] : [])];
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", opts.join(","), "tmpfs", dir], { stdio: "pipe" });
      } catch (error) {
        await rm(aside, { recursive: true, force: true });
        throw new Error(`mounting a tmpfs at ${dir} failed (the disk tests need root and mount(8)): ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
      }
      mounted.push(dir);
      await cp(aside, dir, { recursive: true, verbatimSymlinks: true });
      await rm(aside, { recursive: true, force: true });
      if (options.readOnly) remountReadOnly(dir);
      return dir;
    },
    async mountExt4Loop(nodePath, ext4) {
      const dir = join(root, nodePath);
      await mkdir(dir, { recursive: true });
      const image = join(tmpdir(), `node-doctor-ext4-${process.pid}-${loops.length}-${Date.now()}.img`);
      const run = (command: string, args: string[]) => {
        try {
          return execFileSync(command, args, { stdio: "pipe", encoding: "utf8" });
        } catch (error) {
          throw new Error(
            `${command} ${args.join(" ")} failed (the loop-device tests need root, util-linux and e2fsprogs): ${String((error as { stderr?: string }).stderr ?? error)}`,
          );
        }
      };
      run("truncate", ["-s", `${ext4.sizeMiB}M`, image]);
      run("mkfs.ext4", ["-q", "-F", image]);
      const loop = run("losetup", ["--find", "--show", image]).trim();
      loops.push({ device: loop, image });
      run("mount", ["-t", "ext4", "-o", ext4.options, loop, dir]);
      mounted.push(dir);
      return { dir, device: loop.replace(/^\/dev\//, "") };
    },
    async bindFromHost(path) {
      const dir = join(root, path);
      await mkdir(dir, { recursive: true });
      execFileSync("mount", ["--bind", path, dir], { stdio: "pipe" });
      mounted.push(dir);
    },
    async writeMountinfo() {
      const own = await readFile("/proc/self/mountinfo", "utf8");
      const lines = options.tmpfsRoot ? [] : ["1 0 254:0 / / rw,relatime - ext4 /dev/vda rw"];
      for (const line of own.split("\n")) {
        const fields = line.split(" ");
        // The kernel escapes space, tab, newline and backslash in a mount point as octal (\040).
        const mountPoint = fields[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
        if (mountPoint && mounted.includes(mountPoint)) {
          fields[4] = (mountPoint.slice(root.length) || "/").replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
          lines.push(fields.join(" "));
        }
      }
      await mkdir(join(root, "proc/1"), { recursive: true });
      await writeFile(join(root, "proc/1/mountinfo"), lines.join("\n") + "\n");
    },
    async cleanup() {
      for (const dir of mounted.reverse()) {
        try {
          execFileSync("umount", ["-l", dir], { stdio: "pipe" });
        } catch {
          // already gone
        }
      }
      for (const loop of loops.reverse()) {
        try {
          execFileSync("losetup", ["-d", loop.device], { stdio: "pipe" });
        } catch {
          // already detached
        }
        await rm(loop.image, { force: true });
      }
      await rm(root, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Remounts a mounted tmpfs read-only, as the kernel does after I/O errors. */
export function remountReadOnly(dir: string): void {
  execFileSync("mount", ["-o", "remount,ro", dir], { stdio: "pipe" });
}

/** Fills a filesystem until at most `leaveBytes` remain available. */
export async function fillBytes(dir: string, leaveBytes: number): Promise<void> {
  const { statfs } = await import("node:fs/promises");
  const st = await statfs(dir);
  const available = st.bavail * st.bsize;
  const toWrite = Math.max(0, available - leaveBytes);
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  let index = 0;
  while (written < toWrite) {
    const size = Math.min(chunk.length * 16, toWrite - written);
    const parts: Buffer[] = [];
    for (let left = size; left > 0; left -= chunk.length) parts.push(chunk.subarray(0, Math.min(chunk.length, left)));
    await writeFile(join(dir, `fill-${index++}`), Buffer.concat(parts));
    written += size;
  }
}

/** Creates empty files until at most `leaveInodes` remain free. */
export async function fillInodes(dir: string, leaveInodes: number): Promise<void> {
  const { statfs } = await import("node:fs/promises");
  const st = await statfs(dir);
  const toCreate = Math.max(0, st.ffree - leaveInodes);
  await mkdir(join(dir, "many"), { recursive: true });
  for (let i = 0; i < toCreate - 1; i++) await writeFile(join(dir, "many", `f${i}`), "");
}
