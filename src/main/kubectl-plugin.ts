/**
 * `kubectl node-doctor`: the fleet at a glance and one node's diagnosis from
 * a laptop. Installed as the `kubectl-node_doctor` executable, which kubectl
 * finds on PATH. Errors are one line and a non-zero exit code.
 */
import { createInterface } from "node:readline/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { VERSION } from "../version.js";
import { connectFleet } from "../fleet/cluster-fleet-api.js";
import { fleetCleanup, fleetDescribe, fleetStatus, type CommandResult } from "../fleet/commands.js";
import { errorText } from "../text/format.js";
import { DEFAULT_KUBERNETES_SETTINGS } from "../config/config.js";

const EXIT_USAGE = 3;

const USAGE = `Usage: kubectl node-doctor <command> [flags]

Commands:
  status               one row per node: node-doctor's conditions, worst reason, heartbeat age
  describe NODE        a node's conditions with message and remedy, its Events, the agent's live findings
  cleanup              remove node-doctor's conditions from every node (after uninstalling)
  version              print the version

Flags:
  -l, --selector SEL        only nodes matching this label selector (status, cleanup)
  -o, --output FORMAT       table (default), wide or json (status)
      --heartbeat-seconds N the agents' heartbeat (default ${DEFAULT_KUBERNETES_SETTINGS.heartbeatSeconds}); silent after 3 missed
      --dry-run             show what cleanup would remove, remove nothing
  -y, --yes                 do not ask before cleanup
      --kubeconfig FILE     kubeconfig to use (default: KUBECONFIG, then ~/.kube/config)
      --context NAME        kubeconfig context to use
      --request-timeout S   seconds per API request (default 30)
`;

const OPTIONS = {
  selector: { type: "string", short: "l" },
  output: { type: "string", short: "o" },
  "heartbeat-seconds": { type: "string" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "request-timeout": { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies ParseArgsConfig["options"];

class UsageError extends Error {}

function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag}: expected a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function run(argv: string[]): Promise<CommandResult> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    const message = errorText(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    throw new UsageError(unknown ? `unknown flag ${unknown[1]} (see kubectl node-doctor --help)` : (message.split(". ")[0] ?? message));
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === "help") return { output: USAGE, exitCode: 0 };
  if (command === "version") return { output: `kubectl-node_doctor ${VERSION}\n`, exitCode: 0 };
  if (!["status", "describe", "cleanup"].includes(command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: status, describe, cleanup, version)`);
  }
  const output = values.output ?? "table";
  if (output !== "table" && output !== "wide" && output !== "json")
    throw new UsageError(`--output: expected table, wide or json, got ${JSON.stringify(output)}`);
  const heartbeatSeconds = positiveNumber("heartbeat-seconds", values["heartbeat-seconds"], DEFAULT_KUBERNETES_SETTINGS.heartbeatSeconds);
  const timeoutSeconds = positiveNumber("request-timeout", values["request-timeout"], 30);
  if (command === "describe" && args.length !== 1) throw new UsageError("describe: expected exactly one node name");
  if (command !== "describe" && args.length > 0) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(args[0])}`);

  const dryRun = values["dry-run"] === true;
  const interactive = command === "cleanup" && process.stdin.isTTY === true && !values.yes && !dryRun;
  if (command === "cleanup" && !interactive && !values.yes && !dryRun) {
    throw new UsageError("cleanup: not on a terminal; pass --yes to remove, or --dry-run to see what would be removed");
  }
  const api = await connectFleet({
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    requestTimeoutMs: timeoutSeconds * 1000,
  });
  const signal = new AbortController().signal;
  const colour = process.stdout.isTTY === true;
  const nowMs = Date.now();
  const selector = values.selector ? { labelSelector: values.selector } : {};
  try {
    switch (command) {
      case "status":
        return await fleetStatus(api, { ...selector, output, colour, heartbeatSeconds, nowMs, signal });
      case "describe":
        return await fleetDescribe(api, args[0] ?? "", { colour, heartbeatSeconds, nowMs, signal, width: process.stdout.columns ?? 100 });
      default:
        return await fleetCleanup(api, { ...selector, dryRun, signal, ...(interactive ? { confirm: askOnTerminal } : {}) });
    }
  } finally {
    api.close();
  }
}

run(process.argv.slice(2)).then(
  async (result) => {
    for (const chunk of typeof result.output === "string" ? [result.output] : result.output) {
      // Respect back-pressure: a pipe into `less` or `jq` must not buffer the whole fleet.
      if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once("drain", resolve));
    }
    process.exitCode = result.exitCode;
  },
  (error: unknown) => {
    const message = errorText(error);
    process.stderr.write(`kubectl node-doctor: ${message}\n`);
    process.exitCode = error instanceof UsageError ? EXIT_USAGE : 1;
  },
);
