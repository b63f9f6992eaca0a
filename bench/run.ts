/**
 * `npm run bench [-- name ...]`: runs benchmarks that print figures (never
 * assertions). Each bench/<name>.ts exports `run(args)`; with no name, the
 * default set runs. Record results in docs/performance.md.
 */
const DEFAULT = ["agent"];

// `--minutes 10` is passed on as `--minutes=10`: a bare word after a `--flag` is its value, except after a switch.
const SWITCHES = new Set(["--api-down"]);
const names: string[] = [];
const flags: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] as string;
  const next = argv[i + 1];
  if (!arg.startsWith("--")) names.push(arg);
  else if (!arg.includes("=") && !SWITCHES.has(arg) && next !== undefined && !next.startsWith("--")) flags.push(`${arg}=${argv[++i]}`);
  else flags.push(arg);
}
for (const name of names.length > 0 ? names : DEFAULT) {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bench: invalid name ${JSON.stringify(name)}`);
  const module = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<void> };
  process.stdout.write(`\n== bench ${name} ==\n`);
  try {
    await module.run(flags);
  } catch (error) {
    // A bench's own error (a bad option, a missing bundle) is one line, not a stack trace.
    process.stderr.write(`bench ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
