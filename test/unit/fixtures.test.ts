/**
 * The fixture trees: each case laid over its base (fixture.json) composes,
 * names only fixtures and files that exist, and says where its files come
 * from (SOURCES.md). What a composed tree holds is what the tests of its
 * check read.
 */
import assert from "node:assert/strict";
import { access, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { composeFixture, fixtureRecipe, FIXTURES } from "../support/fixture-root.js";

const names = (await readdir(FIXTURES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
/** Node trees (not data files such as logs or recorded kernel lines). */
const LEGACY = /^(kubelet-|disk-|runtime-|clock-|refused-flags|unregistered-)/;

describe("test/fixtures", () => {
  const scratch: string[] = [];
  after(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  for (const name of names) {
    it(`${name}: composes from what its fixture.json names, and has a SOURCES.md`, async () => {
      const recipe = await fixtureRecipe(name);
      if (recipe?.over) assert.ok(names.includes(recipe.over), `${name} is laid over ${recipe.over}, which is no fixture`);
      for (const [nodePath, source] of Object.entries(recipe?.files ?? {})) {
        assert.ok((await stat(join(FIXTURES, source))).isFile(), `${name}: ${nodePath} comes from ${source}, which is no file`);
      }
      const root = await mkdtemp(join(tmpdir(), `node-doctor-fixture-${name}-`));
      scratch.push(root);
      await composeFixture(name, root);
      for (const nodePath of Object.keys(recipe?.files ?? {})) await access(join(root, nodePath));
      await assert.rejects(access(join(root, "fixture.json")), "fixture.json is not part of the node");
      if (LEGACY.test(name) || name.startsWith("distro-")) await access(join(FIXTURES, name, "SOURCES.md"));
    });
  }
});
