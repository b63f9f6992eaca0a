// Runs node's test runner with the given arguments under a TMPDIR of its own, then fails when the
// tests left anything there: every test removes the temp dirs, sockets and files it creates.
// tsx's compile cache (tsx-<uid>) is the one thing expected to stay; the dir is removed either way.
// Never with --test-force-exit: with --test-concurrency above 1 it drops verdicts of files that
// finished (nodejs/node#64833), so a run reported fewer tests than ran, and exited 0 regardless.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Short: unix socket paths under it must stay below the kernel's 108 bytes.
const dir = mkdtempSync(join(tmpdir(), "ndt-"));
// Like /tmp: tests that drop privileges (the unit lane as nobody) create their files here too.
chmodSync(dir, 0o1777);
const child = spawn(process.execPath, ["--import", "tsx", "--test", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, TMPDIR: dir },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("close", (code, signal) => {
  const left = readdirSync(dir).filter((name) => !/^tsx-\d+$/.test(name));
  rmSync(dir, { recursive: true, force: true });
  if (left.length > 0) {
    console.error(`\nThe tests left ${left.length} entries in their TMPDIR (each test must remove what it creates):\n  ${left.sort().join("\n  ")}`);
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
