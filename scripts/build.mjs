// Builds the agent into one ESM bundle (dist/node-doctor.mjs) so it runs with
// no dev tooling and loads only what it uses (see DESIGN.md's memory budget).
import { build } from "esbuild";
import { chmod, readFile } from "node:fs/promises";
import { AGENT_NODE_FLAGS } from "./node-flags.mjs";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));

await build({
  entryPoints: { "node-doctor": "src/cli.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  // Loaded lazily, only by CLI commands that resolve arbitrary kubeconfigs.
  external: ["@kubernetes/client-node"],
  define: { "process.env.NODE_DOCTOR_VERSION": JSON.stringify(pkg.version) },
  banner: {
    // CommonJS dependencies inside an ESM bundle still call require().
    js: `#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(" ")}\nimport { createRequire as __ndCreateRequire } from 'node:module'; const require = __ndCreateRequire(import.meta.url);`,
  },
});
await chmod("dist/node-doctor.mjs", 0o755);
