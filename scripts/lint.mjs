// Project rules tsc cannot check. Prints each violation as file:line: rule, exits 1 on any.
// `node scripts/lint.mjs [ROOT]` lints ROOT (default: the working directory), so a test can
// lint a scratch tree with a deliberately wrong import.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The layers of src/, lowest first. A module may import its own layer or a lower one, never a
 * higher one: data flows node → checks → engine → sinks, and the parts below know nothing of
 * the parts above (docs/architecture.md).
 */
export const LAYERS = [
  ["types.ts", "version.ts", "text", "time"],
  ["telemetry"],
  ["config"],
  ["wire"],
  ["node"],
  ["kube"],
  ["checks"],
  ["engine"],
  ["sinks"],
  ["fleet"],
  ["main"],
];

async function* files(dir, extensions = /\.(ts|mts|mjs)$/) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (error.code === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "fixtures" || entry.name === "node_modules") continue;
      yield* files(path, extensions);
    } else if (extensions.test(entry.name)) yield path;
  }
}

/**
 * Where a raw setTimeout or AbortSignal.timeout may stand, and why; everywhere else in src/ a
 * wait goes through src/time/ on the injected clock (a test's fake clock drives it).
 */
export const RAW_TIMERS_ALLOWED = {
  "src/time/": "the clock itself: systemClock is the one place real timers are made",
  "src/main/": "composition roots: process-level real time (the exit timer, one-shot commands), never under a test's clock",
  "src/wire/": "protocol clients on real sockets: the caller gives each call its deadline in ms and bounds the whole call on its own clock",
  "src/kube/transport.ts": "the API transport's per-request deadline on a real socket; callers bound their reads on their own clock",
};

const LINE_RULES = [
  { dirs: ["src"], pattern: /\bconsole\.(log|info|debug)\(/, message: "use the agent's log (src/telemetry/log.ts), not console" },
  { dirs: ["src", "test", "bench"], pattern: /(:\s*any\b|\bas any\b|<any>)/, allow: /\/\/ any:/, message: "`any` needs a `// any: why` comment" },
  { dirs: ["test"], pattern: /\b(it|test|describe)\.(skip|todo|only)\b|\{\s*(skip|todo|only):\s*true/, message: "CI runs every test: no skip/todo/only" },
  {
    dirs: ["test"],
    pattern: /["'`]\/proc\/sys\/net\/netfilter\/nf_conntrack_max/,
    except: { "test/exclusive/": "run one file at a time, after the concurrent lane", "test/lint.test.ts": "this rule's own test" },
    message: "nf_conntrack_max is every namespace's limit: a test that changes it drops the connections of tests beside it; it belongs in test/exclusive/",
  },
  { dirs: ["src"], pattern: /\bsetInterval\(/, message: "schedule the next run when the previous ends (no setInterval)" },
  {
    dirs: ["src"],
    pattern: /(?<![.\w])setTimeout\(|\bAbortSignal\.timeout\(/,
    except: RAW_TIMERS_ALLOWED,
    allow: /^\s*setTimeout\(\w+: .*\): TimerHandle;$/, // the Clock interface declaring its own method
    message: "wait through src/time/deadline.ts (deadline, withDeadline, within) on the injected clock, so a test's fake clock drives it",
  },
];

/**
 * The repository is self-contained: the incidents it was built for are told in docs/incidents.md
 * and referred to by name, and no text points at documents that are not in it.
 */
const OUTSIDE_DOCUMENTS = {
  paths: ["src", "test", "docs", "charts", "bench", "scripts", "README.md"],
  extensions: /\.(ts|mts|mjs|js|md|ya?ml|tpl|json|txt)$/,
  pattern: new RegExp(["\\b[Ii]ncidents? [0-9]", "INCIDENTS\\.md", "DESIGN\\.md", "STYLE\\.md", "TOOLS\\.md", "\\.\\./shared\\b"].join("|")),
  message: "refer to an incident by its name in docs/incidents.md, and to no document outside the repository",
};

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

function layerOf(srcDir, absolute) {
  const top = relative(srcDir, absolute).split("/")[0];
  return LAYERS.findIndex((layer) => layer.includes(top));
}

/** Import-order problems of one src file: a higher layer, or another check's folder. */
function importProblems(srcDir, file, lines) {
  const problems = [];
  const from = relative(srcDir, file).split("/");
  const fromLayer = layerOf(srcDir, file);
  lines.forEach((line, index) => {
    for (const match of line.matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]);
      const to = relative(srcDir, target).split("/");
      const toLayer = layerOf(srcDir, target);
      if (fromLayer === -1) problems.push({ line: index + 1, message: `src/${from[0]} is in no layer of scripts/lint.mjs's LAYERS` });
      else if (toLayer > fromLayer) {
        problems.push({
          line: index + 1,
          message: `${from[0]}/ must not import ${to[0]}/ (${match[1]}): imports go down the layers ${LAYERS.map((l) => l.join("|")).join(" < ")}`,
        });
      } else if (from[0] === "checks" && to[0] === "checks" && from.length > 2 && to.length > 2 && from[1] !== to[1]) {
        problems.push({
          line: index + 1,
          message: `the ${from[1]} check must not import the ${to[1]} check (${match[1]}): checks share facts through the context, code through node/`,
        });
      }
    }
  });
  return problems;
}

export async function lint(root) {
  const srcDir = resolve(root, "src");
  const problems = [];
  const seen = new Map();
  for (const rule of LINE_RULES) {
    for (const dir of rule.dirs) {
      for await (const file of files(join(root, dir))) {
        if (!seen.has(file)) seen.set(file, (await readFile(file, "utf8")).split("\n"));
        const lines = seen.get(file);
        const path = relative(root, file);
        if (rule.except && Object.keys(rule.except).some((allowed) => path === allowed || (allowed.endsWith("/") && path.startsWith(allowed)))) continue;
        lines.forEach((line, index) => {
          if (rule.pattern.test(line) && !(rule.allow && (rule.allow.test(line) || rule.allow.test(lines[index - 1] ?? "")))) {
            problems.push(`${path}:${index + 1}: ${rule.message}`);
          }
        });
      }
    }
  }
  for (const path of OUTSIDE_DOCUMENTS.paths) {
    const start = join(root, path);
    const walk = /\.\w+$/.test(path) ? [start] : files(start, OUTSIDE_DOCUMENTS.extensions);
    for await (const file of walk) {
      let text;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        if (error.code === "ENOENT") continue;
        throw error;
      }
      text.split("\n").forEach((line, index) => {
        if (OUTSIDE_DOCUMENTS.pattern.test(line)) problems.push(`${relative(root, file)}:${index + 1}: ${OUTSIDE_DOCUMENTS.message}`);
      });
    }
  }
  for await (const file of files(srcDir)) {
    const lines = seen.get(file) ?? (await readFile(file, "utf8")).split("\n");
    for (const problem of importProblems(srcDir, file, lines)) problems.push(`${relative(root, file)}:${problem.line}: ${problem.message}`);
  }
  const scripts = await readFile(join(root, "package.json"), "utf8").then(
    (text) => JSON.parse(text).scripts ?? {},
    () => ({}),
  );
  for (const [name, command] of Object.entries(scripts)) {
    if (String(command).includes("--test-force-exit"))
      problems.push(`package.json: scripts.${name}: no --test-force-exit: with concurrency it drops finished files' verdicts (nodejs/node#64833)`);
  }
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const problems = await lint(resolve(process.argv[2] ?? "."));
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
}
