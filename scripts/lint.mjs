// Project rules tsc cannot check. Prints each violation as file:line: rule, exits 1 on any.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "fixtures" || entry.name === "node_modules") continue;
      yield* files(path);
    } else if (/\.(ts|mts|mjs)$/.test(entry.name)) yield path;
  }
}

const RULES = [
  { dirs: ["src"], pattern: /\bconsole\.(log|info|debug)\(/, message: "use the agent's log (src/log.ts), not console" },
  { dirs: ["src", "test", "bench"], pattern: /(:\s*any\b|\bas any\b|<any>)/, allow: /\/\/ any:/, message: "`any` needs a `// any: why` comment" },
  { dirs: ["test"], pattern: /\b(it|test|describe)\.(skip|todo|only)\b|\{\s*(skip|todo|only):\s*true/, message: "CI runs every test: no skip/todo/only" },
  { dirs: ["src"], pattern: /\bsetInterval\(/, message: "schedule the next run when the previous ends (no setInterval)" },
];

const problems = [];
for (const rule of RULES) {
  for (const dir of rule.dirs) {
    for await (const file of files(dir)) {
      const lines = (await readFile(file, "utf8")).split("\n");
      lines.forEach((line, index) => {
        if (rule.pattern.test(line) && !(rule.allow && (rule.allow.test(line) || rule.allow.test(lines[index - 1] ?? "")))) {
          problems.push(`${file}:${index + 1}: ${rule.message}`);
        }
      });
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
