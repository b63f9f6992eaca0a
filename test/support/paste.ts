/**
 * Pasting a remedy into a shell, safely: each command a remedy gives (its
 * `…` spans) must be valid shell (`sh -n`), and run by a shell whose PATH
 * holds only a program named `pwned` (as nobody when the test is root), it
 * must not run `pwned` — which a hostile value smuggles in as `$(pwned)`,
 * `;pwned` or a second line.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Finding } from "../../src/types.js";
import { requireTool } from "./tools.js";

/** What a value may smuggle: word splitting, both quotes, a command substitution, a second command, a second line. */
export const SMUGGLE = `a b'c"$(pwned)";pwned\npwned #`;

function run(file: string, args: string[], options: { cwd?: string } = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5_000, ...options }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr: String(stderr) });
    });
  });
}

/** The commands a remedy gives: its `…` spans, placeholders like <name> filled in as an operator would. */
export function commandsOf(remedy: string): string[] {
  return [...remedy.matchAll(/`([^`]*)`/g)].map((m) => (m[1] as string).replace(/<[a-z][a-z0-9 .-]*>/g, "PLACEHOLDER"));
}

/** The reasons whose remedy carries the hostile value: built from it, not from a default. */
export function carrying(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.remedy?.includes("pwned")).map((f) => f.reason);
}

export interface PasteSandbox {
  /** Checks every command of every remedy; returns how many commands were pasted. */
  assertPasteSafe(findings: readonly Finding[]): Promise<number>;
  close(): Promise<void>;
}

export async function pasteSandbox(): Promise<PasteSandbox> {
  const root = process.getuid?.() === 0;
  if (root) requireTool("setpriv");
  const dir = await mkdtemp(join(tmpdir(), "nd-paste-"));
  await chmod(dir, 0o777);
  await mkdir(join(dir, "bin"));
  const sentinel = join(dir, "pwned-ran");
  await writeFile(join(dir, "bin/pwned"), `#!/bin/sh\necho "$@" >> ${sentinel}\n`, { mode: 0o755 });
  return {
    async assertPasteSafe(findings) {
      let commands = 0;
      await rm(sentinel, { force: true });
      for (const finding of findings) {
        for (const command of commandsOf(finding.remedy ?? "")) {
          commands++;
          const where = `${finding.reason}: ${JSON.stringify(command)}`;
          // As a file, the way a paste reaches the shell: a command may start with "--".
          const script = join(dir, "pasted.sh");
          await writeFile(script, `${command}\n`, { mode: 0o644 });
          const syntax = await run("/bin/sh", ["-n", script]);
          assert.equal(syntax.code, 0, `sh -n refuses ${where}: ${syntax.stderr}`);
          const shell = ["/usr/bin/env", "-i", `PATH=${join(dir, "bin")}`, "/bin/sh", script];
          if (root) await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...shell], { cwd: dir });
          else await run(shell[0] as string, shell.slice(1), { cwd: dir });
          const ran = await stat(sentinel).then(
            () => true,
            () => false,
          );
          assert.equal(ran, false, `pasting ${where} ran the smuggled command`);
        }
      }
      return commands;
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
