/**
 * `npm run bench [-- name ...]`: runs benchmarks that print figures (never
 * assertions). Each bench/<name>.ts exports `run(args)`; with no name, the
 * default set runs. Record results in docs/performance.md.
 */
const DEFAULT = ["agent"];

const names = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
for (const name of names.length > 0 ? names : DEFAULT) {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bench: invalid name ${JSON.stringify(name)}`);
  const module = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<void> };
  process.stdout.write(`\n== bench ${name} ==\n`);
  await module.run(flags);
}
