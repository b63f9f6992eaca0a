/**
 * node-problem-detector's own plugin runner as an oracle: NPD's plugin.go
 * (test/fixtures/npd-plugins/npd-src, unchanged) built into a small binary
 * that prints NPD's verdict — status 0 ok, 1 non-ok, 2 unknown — and the
 * message NPD would put on its condition, for each plugin it runs.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildGoHarness } from "./go-harness.js";

const run = promisify(execFile);
const at = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export function npdOracleBinary(): Promise<string> {
  return buildGoHarness({
    name: "npd-oracle",
    libraries: {
      "k8s.io/klog": "golang-k8s-klog-dev",
      "k8s.io/utils/clock": "golang-k8s-utils-dev",
      "github.com/spf13/pflag": "golang-github-spf13-pflag-dev",
      "github.com/go-logr/logr": "golang-github-go-logr-logr-dev",
    },
    aliases: { "k8s.io/klog/v2": "k8s.io/klog" },
    copies: {
      "k8s.io/node-problem-detector": at("../fixtures/npd-plugins/npd-src"),
      "k8s.io/node-problem-detector/pkg/custompluginmonitor/plugin/zz_oracle_export.go": at("./npd-oracle/export.go"),
      "npd-oracle/main.go": at("./npd-oracle/main.go"),
    },
    main: "npd-oracle",
  });
}

export interface NpdVerdict {
  path: string;
  /** NPD's cpmtypes.Status: 0 OK, 1 NonOK, 2 Unknown. */
  status: 0 | 1 | 2;
  /** What NPD reports as the message (trimmed, cut at its max_output_length of 80). */
  output: string;
}

/** NPD's verdicts, in order, with the environment the plugins get (NPD passes its own on). */
export async function npdVerdicts(paths: readonly string[], options: { timeoutSeconds: number; env: Record<string, string> }): Promise<NpdVerdict[]> {
  const binary = await npdOracleBinary();
  const { stdout } = await run(binary, [`${options.timeoutSeconds}s`, ...paths], { env: options.env, timeout: 60_000 });
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as NpdVerdict);
}
