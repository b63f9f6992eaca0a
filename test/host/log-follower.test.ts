/**
 * Following plain log files as they really change: logrotate's rename,
 * copytruncate, klog moving its kubelet.INFO symlink, a writer caught
 * mid-line, binary garbage and a 1 MB line.
 */
import assert from "node:assert/strict";
import { appendFile, mkdir, rename, symlink, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { looksBinary } from "../../src/node/log-line.js";
import { asText, FileFollower, LineSplitter } from "../../src/node/log-follower.js";
import { RootedHost } from "../../src/node/host.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";

let fixture: FixtureRoot | undefined;
let follower: FileFollower | undefined;
afterEach(async () => {
  await follower?.close();
  follower = undefined;
  await fixture?.cleanup();
  fixture = undefined;
});

async function setup(
  options: ConstructorParameters<typeof FileFollower>[2] = {},
): Promise<{ file: string; poll: () => Promise<{ lines: string[]; truncatedLines: number; result: Awaited<ReturnType<FileFollower["poll"]>> }> }> {
  fixture = await fixtureRoot();
  await mkdir(join(fixture.root, "var/log"), { recursive: true });
  const file = join(fixture.root, "var/log/kubelet.log");
  follower = new FileFollower(new RootedHost(fixture.root), "/var/log/kubelet.log", options);
  const f = follower;
  return {
    file,
    async poll() {
      const lines: string[] = [];
      let truncatedLines = 0;
      const result = await f.poll((line, truncated) => {
        lines.push(line);
        if (truncated) truncatedLines++;
      });
      return { lines, truncatedLines, result };
    },
  };
}

describe("FileFollower", () => {
  it("reads appended lines once each, and waits for a partial last line's newline", async () => {
    const { file, poll } = await setup();
    await writeFile(file, "one\ntwo\nthr");
    assert.deepEqual((await poll()).lines, ["one", "two"]);
    assert.deepEqual((await poll()).lines, []);
    await appendFile(file, "ee\r\nfour\n");
    assert.deepEqual((await poll()).lines, ["three", "four"]);
  });

  it("a missing file is reported with its node path, then followed once it appears", async () => {
    const { file, poll } = await setup();
    const first = await poll();
    assert.equal(first.result.open, false);
    assert.equal(first.result.error, "/var/log/kubelet.log: does not exist");
    await writeFile(file, "hello\n");
    assert.deepEqual((await poll()).lines, ["hello"]);
  });

  it("rotation by rename: finishes the old file (even its unterminated last line), then reads the new one from its start", async () => {
    const { file, poll } = await setup();
    await writeFile(file, "a1\n");
    assert.deepEqual((await poll()).lines, ["a1"]);
    await appendFile(file, "a2\na3-no-newline");
    await rename(file, `${file}.1`);
    await writeFile(file, "b1\nb2\n");
    const { lines, result } = await poll();
    assert.deepEqual(lines, ["a2", "a3-no-newline", "b1", "b2"]);
    assert.equal(result.rotated, true);
    await appendFile(file, "b3\n");
    assert.deepEqual((await poll()).lines, ["b3"]);
  });

  it("rotation while the new file does not exist yet: drains the old one, then picks up the new file", async () => {
    const { file, poll } = await setup();
    await writeFile(file, "a1\n");
    await poll();
    await appendFile(file, "a2\n");
    await rename(file, `${file}.1`);
    const gap = await poll();
    assert.deepEqual(gap.lines, ["a2"]);
    assert.equal(gap.result.open, false);
    await writeFile(file, "b1\n");
    assert.deepEqual((await poll()).lines, ["b1"]);
  });

  it("truncation in place (copytruncate): reads again from the start", async () => {
    const { file, poll } = await setup();
    await writeFile(file, "old line 1\nold line 2\n");
    await poll();
    await truncate(file, 0);
    await appendFile(file, "new\n");
    const { lines, result } = await poll();
    assert.equal(result.truncated, true);
    assert.deepEqual(lines, ["new"]);
  });

  it("klog's kubelet.INFO symlink moving to a new file is a rotation", async () => {
    fixture = await fixtureRoot();
    const dir = join(fixture.root, "var/log/kubernetes");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "kubelet.node1.root.log.INFO.1"), "first\n");
    await symlink("kubelet.node1.root.log.INFO.1", join(dir, "kubelet.INFO"));
    follower = new FileFollower(new RootedHost(fixture.root), "/var/log/kubernetes/kubelet.INFO");
    const lines: string[] = [];
    await follower.poll((l) => lines.push(l));
    await writeFile(join(dir, "kubelet.node1.root.log.INFO.2"), "second\n");
    await unlink(join(dir, "kubelet.INFO"));
    await symlink("kubelet.node1.root.log.INFO.2", join(dir, "kubelet.INFO"));
    const result = await follower.poll((l) => lines.push(l));
    assert.equal(result.rotated, true);
    assert.deepEqual(lines, ["first", "second"]);
  });

  it("binary garbage is delivered as lines the caller can recognise, without breaking the lines around it", async () => {
    const { file, poll } = await setup();
    const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 128) % 256).filter((b) => b !== 0x0a));
    await writeFile(file, Buffer.concat([Buffer.from("before\n"), garbage, Buffer.from("\n\0\0\0\nafter\n")]));
    const { lines } = await poll();
    assert.equal(lines[0], "before");
    assert.equal(lines.at(-1), "after");
    assert.equal(lines.filter(looksBinary).length, 2);
  });

  it("a 1 MB single line is cut at maxLineBytes, reported truncated, and costs no more memory than that", async () => {
    const { file, poll } = await setup({ maxLineBytes: 64 * 1024 });
    await writeFile(file, Buffer.concat([Buffer.from("short\n"), Buffer.alloc(1024 * 1024, "x"), Buffer.from("\nafter\n")]));
    const { lines, truncatedLines } = await poll();
    assert.equal(lines.length, 3);
    assert.equal(lines[1]?.length, 64 * 1024);
    assert.equal(truncatedLines, 1);
    assert.equal(lines[2], "after");
  });

  it("a 1 MB line still being written, across polls, is emitted once", async () => {
    const { file, poll } = await setup({ maxLineBytes: 64 * 1024 });
    await writeFile(file, Buffer.alloc(512 * 1024, "y"));
    const first = await poll();
    assert.equal(first.lines.length, 1);
    assert.equal(first.truncatedLines, 1);
    await appendFile(file, Buffer.concat([Buffer.alloc(512 * 1024, "y"), Buffer.from("\nnext\n")]));
    assert.deepEqual((await poll()).lines, ["next"]);
  });

  it("starts near the end of a large file, skipping the cut first line", async () => {
    const { file, poll } = await setup({ initialBytes: 100 });
    await writeFile(file, Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, "0")}`).join("\n") + "\n");
    const { lines } = await poll();
    assert.ok(lines.length > 0 && lines.length < 12, `read ${lines.length} lines`);
    assert.equal(lines.at(-1), "line 099");
    assert.match(lines[0] ?? "", /^line \d{3}$/, "no partial first line");
  });

  it("a flood larger than the per-poll budget skips the oldest part and says how much", async () => {
    const { file, poll } = await setup({ budgetBytes: 64 * 1024 });
    await writeFile(file, "");
    await poll();
    await appendFile(file, Array.from({ length: 20000 }, (_, i) => `flood ${String(i).padStart(5, "0")}`).join("\n") + "\n");
    const { lines, result } = await poll();
    assert.ok(result.skippedBytes > 0);
    assert.ok(result.bytesRead <= 64 * 1024);
    assert.equal(lines.at(-1), "flood 19999");
    assert.match(lines[0] ?? "", /^flood \d{5}$/);
  });
});

describe("LineSplitter", () => {
  it("joins a line split across many chunks", () => {
    const splitter = new LineSplitter(1024);
    const out: string[] = [];
    for (const piece of ["ab", "cd", "ef\ngh", "\n"])
      splitter.push(
        Buffer.from(piece),
        asText((l) => out.push(l)),
      );
    assert.deepEqual(out, ["abcdef", "gh"]);
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const splitter = new LineSplitter(1024);
    const out: string[] = [];
    const bytes = Buffer.from("héllo wörld\n");
    splitter.push(
      bytes.subarray(0, 2),
      asText((l) => out.push(l)),
    );
    splitter.push(
      bytes.subarray(2),
      asText((l) => out.push(l)),
    );
    assert.deepEqual(out, ["héllo wörld"]);
  });

  it("joins lines across chunks read into one reused buffer, and cuts an over-long line at maxLineBytes", () => {
    const splitter = new LineSplitter(16);
    const out: Array<[string, boolean]> = [];
    const emit = asText((line, truncated) => out.push([line, truncated]));
    const buffer = Buffer.alloc(8);
    for (const piece of ["alpha b", "eta\ngam", "ma\r\n", "0123456", "789abcde", "fghij\nok", "\n"]) {
      buffer.write(piece);
      splitter.push(buffer.subarray(0, Buffer.byteLength(piece)), emit);
    }
    assert.deepEqual(out, [
      ["alpha beta", false],
      ["gamma", false],
      ["0123456789abcdef", true],
      ["ok", false],
    ]);
    assert.equal(splitter.pendingBytes, 0);
  });
});
