// Builds node-doctor into ESM bundles so it runs with no dev tooling and loads
// only what it uses (the memory budget in docs/performance.md):
//   dist/node-doctor.mjs          the agent and its CLI (runs with the agent's V8 flags)
//   dist/kubectl-node_doctor.mjs  the kubectl plugin (a short-lived CLI: default V8 settings)
import { build } from "esbuild";
import { chmod, readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { AGENT_NODE_FLAGS } from "./node-flags.mjs";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));

// CommonJS dependencies inside an ESM bundle still call require().
const REQUIRE_SHIM = 'const require = process.getBuiltinModule("node:module").createRequire(import.meta.url);';

// Node's builtins are taken with process.getBuiltinModule(), never `import`ed:
// an ESM import of a builtin builds a facade that reads every export, and
// node:http's lazy getters then load undici (fetch, WebSocket) — 5.5 MiB
// resident and 40 ms of start-up for nothing the agent uses (docs/performance.md).
const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map((m) => m.replace(/[/]/g, "\\/")).join("|")})$`);
const builtinsWithoutFacade = {
  name: "builtins-without-esm-facade",
  setup(build) {
    build.onResolve({ filter: BUILTIN }, (args) => ({ path: args.path.startsWith("node:") ? args.path : `node:${args.path}`, namespace: "builtin" }));
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

async function bundle(name, entry, shebang) {
  await build({
    entryPoints: { [name]: entry },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
    // What is imported with import() (pino-pretty, for --log-format pretty) is a chunk of its own, read only when loaded.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    sourcemap: "linked",
    legalComments: "none",
    // V8 keeps a script's source for lazy compilation: minified, the agent is 1 MiB smaller resident.
    // Names are kept so errors and logs still name classes and functions; the source map maps the rest.
    minify: true,
    keepNames: true,
    logLevel: "warning",
    // Loaded lazily, only where an arbitrary kubeconfig (exec, auth-provider) must be resolved.
    external: ["@kubernetes/client-node"],
    plugins: [builtinsWithoutFacade],
    define: { "process.env.NODE_DOCTOR_VERSION": JSON.stringify(pkg.version) },
    banner: { js: `${shebang}\n${REQUIRE_SHIM}` },
  });
  await chmod(`dist/${name}.mjs`, 0o755);
}

await Promise.all([
  bundle("node-doctor", "src/main/cli.ts", `#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(" ")}`),
  bundle("kubectl-node_doctor", "src/main/kubectl-plugin.ts", "#!/usr/bin/env node"),
]);
