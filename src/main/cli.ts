/**
 * Entry point: `node-doctor run | check | version`. Parses arguments, loads
 * the configuration and hands over to agent.ts. Bad usage or configuration is
 * one line on stderr and exit code 3, never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { assemble, configSchema, createLogger, diagnoseOnce, startAgent } from "./agent.js";
import { VERSION } from "../version.js";
import { DEFAULT_LISTEN, loadConfig, overridesFromEnvironment, type ConfigOverrides } from "../config/config.js";
import { ConfigError } from "../config/schema.js";
import { KubeConfigError } from "../kube/credentials.js";
import { createClient, resolveCredentials } from "../kube/connect.js";
import { removeConditionsReport } from "../sinks/conditions.js";
import { stat } from "node:fs/promises";
import { hostname } from "node:os";
import { CHECK_NAMES, checkSelectorProblem } from "../checks/index.js";
import { exitCodeFor, renderText } from "../sinks/text.js";
import { renderJson } from "../sinks/json.js";
import { describeLine, describeNode } from "../node/kubelet/describe.js";
import { readOwnFile } from "../node/host.js";
import { LOG_FORMATS, type LogFormat } from "../telemetry/log.js";
import { AGENT_NODE_FLAGS } from "../../scripts/node-flags.mjs";
import { errorText, isoTimeMs } from "../text/format.js";

export const EXIT_USAGE = 3;

/** Why the agent could not listen, by errno code: bad usage, one line, exit 3. */
const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "no such address on this host",
  EACCES: "permission denied",
  ENOTFOUND: `no such host (give an address of this host, e.g. ${DEFAULT_LISTEN})`,
  EAI_AGAIN: `the host name could not be resolved now (give an address, e.g. ${DEFAULT_LISTEN})`,
};

const USAGE = `Usage: node-doctor <command> [flags]

Commands:
  run      run the agent: check on intervals, serve /metrics, /healthz, /readyz, /findings
  check    run every enabled check once, print the diagnosis, exit 0 ok / 1 warning / 2 critical
  conditions remove [--node NAME | --all-nodes] [--kubeconfig FILE]
           remove node-doctor's NodeConditions (uninstall), leaving every other condition
  version  print the version

Flags (run and check):
  --config FILE       YAML configuration (env NODE_DOCTOR_CONFIG)
  --host-root DIR     the node's filesystem root (default /; /host in the image)
  --kubeconfig FILE   talk to the API server with this kubeconfig (default: in-cluster credentials)
  --node-name NAME    this node's name (env NODE_NAME; default: the hostname)
  --log-level LEVEL   debug, info, warn or error
  --log-format FORMAT json (default: one object per line on stderr) or pretty (for a terminal)
Flags (run):
  --listen HOST:PORT  address to serve on (default ${DEFAULT_LISTEN})
Flags (check):
  --only a,b          run only these checks (${CHECK_NAMES.join(", ")}), or one custom check: custom/<name>
  --output FORMAT     text (default) or json
`;

const COMMON_OPTIONS = {
  config: { type: "string" },
  "host-root": { type: "string" },
  kubeconfig: { type: "string" },
  "node-name": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies ParseArgsConfig["options"];

const OPTIONS = {
  run: { ...COMMON_OPTIONS, listen: { type: "string" } },
  conditionsRemove: {
    kubeconfig: { type: "string" },
    node: { type: "string" },
    "node-name": { type: "string" },
    "all-nodes": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  check: { ...COMMON_OPTIONS, only: { type: "string" }, output: { type: "string" } },
} satisfies Record<string, ParseArgsConfig["options"]>;

class UsageError extends Error {}

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(argumentProblem(args, options, (error as NodeJS.ErrnoException).code));
  }
}

/**
 * What parseArgs refused, told by its error code (its messages are English prose that may change):
 * the offending token is found by parsing again, leniently, with tokens.
 */
function argumentProblem(args: string[], options: NonNullable<ParseArgsConfig["options"]>, code: string | undefined): string {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const known = (name: string) => Object.hasOwn(options, name);
  for (const token of tokens) {
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && token.kind === "option" && !known(token.name))
      return `unknown flag ${token.rawName} (see node-doctor --help)`;
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && token.kind === "positional")
      return `unexpected argument ${JSON.stringify(token.value)} (see node-doctor --help)`;
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && token.kind === "option" && known(token.name)) {
      const type = options[token.name]?.type;
      if (type === "string" && token.value === undefined) return `${token.rawName}: expected a value`;
      if (type === "boolean" && token.value !== undefined) return `${token.rawName} takes no value`;
    }
  }
  return `could not read the arguments ${JSON.stringify(args.join(" "))} (see node-doctor --help)`;
}

function overridesFromFlags(values: Record<string, string | boolean | undefined>): ConfigOverrides {
  const out: ConfigOverrides = {};
  const map: Array<[string, keyof ConfigOverrides]> = [
    ["config", "configFile"],
    ["host-root", "hostRoot"],
    ["kubeconfig", "kubeconfig"],
    ["node-name", "nodeName"],
    ["log-level", "logLevel"],
    ["listen", "listen"],
  ];
  for (const [flag, key] of map) {
    const value = values[flag];
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

/** `--only`'s selectors, checked for their form; `custom/<name>` is checked against the configuration once it is read. */
function parseOnly(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError("--only: expected a comma-separated list of checks");
  for (const name of names) {
    const problem = checkSelectorProblem(name);
    if (problem) throw new UsageError(`--only: ${problem}`);
  }
  return names;
}

function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined) return "json";
  const format = LOG_FORMATS.find((f) => f === value);
  if (!format) throw new UsageError(`--log-format: expected ${LOG_FORMATS.join(" or ")}, got ${JSON.stringify(value)}`);
  return format;
}

async function commandCheck(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS.check);
  if (values.help) return printUsage();
  const output = values.output ?? "text";
  if (output !== "text" && output !== "json") throw new UsageError(`--output: expected text or json, got ${JSON.stringify(output)}`);
  const only = parseOnly(values.only);
  const fromFlags = overridesFromFlags(values);
  const config = await loadConfig(configSchema, overridesFromEnvironment(process.env), fromFlags, readOwnFile);
  for (const selector of only ?? []) {
    const problem = checkSelectorProblem(selector, config.checks);
    if (problem) throw new UsageError(`--only: ${problem}`);
  }
  await assertHostRoot(config.hostRoot);
  // A one-shot report keeps stderr quiet unless asked.
  const log = await createLogger(fromFlags.logLevel ?? (config.logLevel === "info" ? "warn" : config.logLevel), parseLogFormat(values["log-format"]));
  const assembly = await assemble(config, { log, readOnly: true, ...(only ? { only } : {}) });
  const findings = await diagnoseOnce(assembly);
  const about = await describeNode(assembly.kubelet, AbortSignal.timeout(10_000)).catch(() => undefined);
  if (output === "json") process.stdout.write(renderJson(findings, about ? { node: { name: assembly.nodeName, ...about } } : {}));
  else {
    const header = `node-doctor ${VERSION} — node ${assembly.nodeName}, host root ${config.hostRoot}, ${isoTimeMs(Date.now())}${about ? `\n${describeLine(about)}` : ""}`;
    process.stdout.write(renderText(findings, { colour: process.stdout.isTTY === true, width: process.stdout.columns ?? 100, header }));
  }
  return exitCodeFor(findings);
}

async function commandRun(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS.run);
  if (values.help) return printUsage();
  const config = await loadConfig(configSchema, overridesFromEnvironment(process.env), overridesFromFlags(values), readOwnFile);
  await assertHostRoot(config.hostRoot);
  const log = await createLogger(config.logLevel, parseLogFormat(values["log-format"]));
  const assembly = await assemble(config, { log });
  let agent;
  try {
    agent = await startAgent(assembly);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code !== undefined && Object.hasOwn(LISTEN_PROBLEMS, code) ? LISTEN_PROBLEMS[code] : undefined;
    if (problem === undefined) throw error;
    await assembly.cluster.close();
    throw new UsageError(`--listen ${config.listen}: ${problem}`);
  }

  // Said once the agent runs (bad usage stays one line). `node dist/node-doctor.mjs run` skips the
  // bundle's #! line, which carries the flags: measured 78.3 MiB max instead of 67.4 (docs/performance.md).
  const missing = AGENT_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length > 0) {
    log.warn(
      { missing },
      "running without the agent's V8 flags: resident memory is about 10 MiB higher; start the bundle itself (its #! line has them), or node with them",
    );
  }

  const shutdown = (signal: NodeJS.Signals) => {
    log.info(
      { signal },
      signal === "SIGHUP" ? "shutting down on SIGHUP (the configuration is read only at start: restart to apply a change)" : "shutting down",
    );
    // Kubernetes waits terminationGracePeriodSeconds; finish well within it.
    const force = setTimeout(() => {
      log.error({}, "shutdown took longer than 5s; exiting");
      process.exit(0);
    }, 5000);
    force.unref();
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: String(error) }, "error during shutdown");
        process.exit(0);
      },
    );
  };
  // SIGHUP too (a closed terminal, or someone expecting a reload): the agent does not reload its
  // configuration, so it shuts down cleanly, and says so, rather than die without its shutdown.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(signal, () => shutdown(signal));

  await agent.firstRound;
  const findings = assembly.state.runs().flatMap((run) => run.findings);
  const header = `node-doctor ${VERSION} — first diagnosis of node ${assembly.nodeName}; serving on ${agent.address}`;
  process.stdout.write(renderText(findings, { colour: process.stdout.isTTY === true, width: process.stdout.columns ?? 100, header }));
  return new Promise<number>(() => undefined); // runs until a signal
}

/** `node-doctor conditions remove`: one line per node on stdout; exit 0 when done, 1 when the API failed. */
async function commandConditions(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "remove") throw new UsageError(`conditions: unknown subcommand ${JSON.stringify(sub ?? "")} (subcommands: remove)`);
  const { values } = parse(rest, OPTIONS.conditionsRemove);
  if (values.help) return printUsage();
  const env = overridesFromEnvironment(process.env);
  if (values.node !== undefined && values["all-nodes"]) throw new UsageError("conditions remove: --node and --all-nodes exclude each other");
  if (values.node === "") throw new UsageError("--node: expected a node name");
  const kubeconfig = values.kubeconfig ?? env.kubeconfig;
  const credentials = await resolveCredentials(kubeconfig ? { kubeconfig } : {});
  if (!credentials) throw new UsageError("conditions remove: no API server: pass --kubeconfig FILE or run in a pod with a service account");
  const client = createClient(credentials, { timeoutMs: 10_000 });
  try {
    let nodes: string[];
    if (values["all-nodes"]) {
      nodes = [];
      let continueToken: string | undefined;
      do {
        const page = await client.listNodes({ limit: 500, ...(continueToken ? { continueToken } : {}) });
        nodes.push(...page.items.map((n) => n.metadata?.name ?? "").filter(Boolean));
        continueToken = page.continueToken;
      } while (continueToken);
    } else {
      nodes = [values.node ?? values["node-name"] ?? env.nodeName ?? hostname()];
    }
    let failed = 0;
    for (const node of nodes) {
      try {
        const { removed, left } = await removeConditionsReport(client, node, AbortSignal.timeout(30_000));
        const kept = left.map((l) => `; left ${l.type} to ${l.managers.join(", ")}`).join("");
        process.stdout.write(`${node}: ${removed.length > 0 ? `removed ${removed.join(", ")}` : "no node-doctor conditions"}${kept}\n`);
      } catch (error) {
        failed++;
        process.stderr.write(`node-doctor: ${node}: ${errorText(error)}\n`);
      }
    }
    return failed > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}

/** A host root that is not a directory would make every check report its files missing: a usage error instead. */
async function assertHostRoot(hostRoot: string): Promise<void> {
  const st = await stat(hostRoot).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new UsageError(
      `host root ${hostRoot}: ${st ? "is not a directory" : "does not exist"} (set by --host-root, NODE_DOCTOR_HOST_ROOT or hostRoot in the config)`,
    );
  }
}

function printUsage(): number {
  process.stdout.write(USAGE);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await commandRun(rest);
      case "check":
        return await commandCheck(rest);
      case "conditions":
        return await commandConditions(rest);
      case "version":
      case "--version":
        process.stdout.write(`node-doctor ${VERSION}\n`);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        return printUsage();
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: run, check, conditions, version)`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof KubeConfigError) {
      process.stderr.write(`node-doctor: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`node-doctor: ${errorText(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`node-doctor: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
