/**
 * What each library costs resident, used the way the agent uses it: a small
 * program per library, bundled as the agent is (esbuild, builtins through
 * process.getBuiltinModule, minified), run with the agent's V8 flags, its
 * VmRSS read after it has served a few requests and settled. Each program is
 * measured `--rounds` times, interleaved with the baseline (a bare node:http
 * server doing the same), and the median difference is printed: the figures
 * of docs/performance.md's dependency table.
 *
 *   npm run bench -- deps [--rounds=5]
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { AGENT_NODE_FLAGS } from "../scripts/node-flags.mjs";
import { option, rssKiB } from "./support.js";

const SERVE = `
const http = process.getBuiltinModule("node:http");
async function hit(port, path, n) { for (let i = 0; i < n; i++) await new Promise((r) => http.get({ port, path }, (res) => { res.resume(); res.on("end", r); })); }
`;

/** Each program serves /metrics-like text 50 times, then idles; it prints READY when measured. */
const PROGRAMS: Record<string, string> = {
  "baseline (node:http)": `${SERVE}
const server = http.createServer((req, res) => res.end("x 1\\n"));
server.listen(0, "127.0.0.1", async () => { await hit(server.address().port, "/metrics", 50); console.log("READY"); });`,
  "prom-client (registry, 20 series, process collectors)": `${SERVE}
import { Registry, Gauge, Counter, Histogram } from "prom-client";
import cpu from "prom-client/lib/metrics/processCpuTotal.js";
import mem from "prom-client/lib/metrics/osMemoryHeap.js";
const registry = new Registry(); registry.setDefaultLabels({ node: "n" }); cpu(registry); mem(registry);
for (let i = 0; i < 6; i++) { new Gauge({ name: "g" + i, help: "h", labelNames: ["a"], registers: [registry] }).set({ a: "x" }, i); new Counter({ name: "c" + i + "_total", help: "h", registers: [registry] }).inc(); new Histogram({ name: "h" + i + "_seconds", help: "h", registers: [registry] }).observe(0.1); }
const server = http.createServer(async (req, res) => res.end(await registry.metrics()));
server.listen(0, "127.0.0.1", async () => { await hit(server.address().port, "/metrics", 50); console.log("READY"); });`,
  "pino (sync JSON to stderr)": `${SERVE}
import pino from "pino";
const log = pino({ base: { component: "x" }, formatters: { level: (l) => ({ level: l }) } }, pino.destination({ fd: 2, sync: true }));
const server = http.createServer((req, res) => { log.child({ check: "disk" }).info({ path: req.url }, "served"); res.end("x 1\\n"); });
server.listen(0, "127.0.0.1", async () => { await hit(server.address().port, "/metrics", 50); console.log("READY"); });`,
  "fastify (5 routes, logger off, no schema compilers, as the agent)": `${SERVE}
import fastify from "fastify";
const none = () => { throw new Error("no schemas"); };
const app = fastify({ schemaController: { compilersFactory: { buildValidator: none, buildSerializer: none } } });
for (const path of ["/", "/metrics", "/healthz", "/readyz", "/findings"]) app.get(path, async () => "x 1\\n");
app.listen({ port: 0, host: "127.0.0.1" }).then(async () => { await hit(app.server.address().port, "/metrics", 50); console.log("READY"); });`,
};

const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map((m) => m.replace(/[/]/g, "\\/")).join("|")})$`);
const builtins: Plugin = {
  name: "builtins",
  setup(b) {
    b.onResolve({ filter: BUILTIN }, (args) => ({ path: args.path.startsWith("node:") ? args.path : `node:${args.path}`, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

async function measure(file: string): Promise<number> {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, file], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => d.toString().includes("READY") && resolve());
      child.once("exit", (code) => reject(new Error(`${file} exited ${code}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 2000)); // settled: what stays resident, not the start-up peak
    return await rssKiB(child.pid as number);
  } finally {
    child.kill("SIGKILL");
  }
}

export async function run(args: string[]): Promise<void> {
  const rounds = Number(option(args, "rounds", "5"));
  const dir = await mkdtemp(join(tmpdir(), "nd-bench-deps-"));
  try {
    const files: Record<string, string> = {};
    for (const [name, source] of Object.entries(PROGRAMS)) {
      const entry = join(dir, `${Object.keys(files).length}.mjs`);
      await writeFile(entry, source);
      const out = join(dir, `${Object.keys(files).length}.bundle.mjs`);
      await build({
        entryPoints: [entry],
        outfile: out,
        bundle: true,
        platform: "node",
        format: "esm",
        minify: true,
        keepNames: true,
        logLevel: "error",
        nodePaths: [join(import.meta.dirname, "../node_modules")],
        plugins: [builtins],
        banner: { js: 'const require = process.getBuiltinModule("node:module").createRequire(import.meta.url);' },
      });
      files[name] = out;
    }
    const results: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (const [name, file] of Object.entries(files)) (results[name] ??= []).push(await measure(file));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    const base = median(results["baseline (node:http)"] ?? []);
    process.stdout.write(
      `node ${process.version}, flags ${AGENT_NODE_FLAGS.join(" ")}, ${rounds} rounds, VmRSS 2 s after 50 requests\n\n| program | RSS MiB (median) | over the baseline |\n|---|---|---|\n`,
    );
    for (const [name, values] of Object.entries(results)) {
      const m = median(values);
      process.stdout.write(`| ${name} | ${(m / 1024).toFixed(1)} | ${name.startsWith("baseline") ? "" : `+${((m - base) / 1024).toFixed(1)} MiB`} |\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
