/**
 * kubelet's command line, parsed the way pflag parses it: `--name=value`,
 * `--name value` (the next word, unless the flag is boolean), `-name`, and
 * booleans read with Go's strconv.ParseBool. The one flag reader: every
 * check asks it, so `--fail-swap-on=True` means the same everywhere.
 */

/**
 * kubelet's boolean flags (and klog's, which kubelet carried until 1.26):
 * pflag lets `--flag value` take the next word for every other flag, so the
 * parser must know which ones take none.
 */
const BOOLEAN_FLAGS = new Set([
  "add-dir-header",
  "allow-privileged",
  "alsologtostderr",
  "anonymous-auth",
  "cgroups-per-qos",
  "enable-controller-attach-detach",
  "enable-debugging-handlers",
  "enable-load-reader",
  "enable-server",
  "exit-on-lock-contention",
  "fail-cgroupv1",
  "fail-swap-on",
  "help",
  "keep-terminated-pod-volumes",
  "kernel-memcg-notification",
  "local-storage-capacity-isolation",
  "log-json-split-stream",
  "logtostderr",
  "make-iptables-util-chains",
  "one-output",
  "protect-kernel-defaults",
  "register-node",
  "register-schedulable",
  "require-kubeconfig",
  "rotate-certificates",
  "rotate-server-certificates",
  "seccomp-default",
  "serialize-image-pulls",
  "skip-headers",
  "skip-log-headers",
  "version",
  "experimental-check-node-capabilities-before-mount",
  "experimental-mounter-path-exists",
]);

export interface KubeletFlags {
  /** Last value of each flag, name without dashes: "config" -> "/var/lib/kubelet/config.yaml". */
  values: ReadonlyMap<string, string>;
  /** Every flag occurrence in order, for rules that care about repeats. */
  occurrences: ReadonlyArray<{ name: string; value: string }>;
  /** Words that are not flags (e.g. "kubelet" after "hyperkube"). */
  positional: readonly string[];
}

export const NO_FLAGS: KubeletFlags = { values: new Map(), occurrences: [], positional: [] };

/** Parses kubelet's argv (without argv[0]) the way pflag does. */
export function parseKubeletFlags(args: readonly string[]): KubeletFlags {
  const values = new Map<string, string>();
  const occurrences: Array<{ name: string; value: string }> = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    const match = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === "-") {
      positional.push(arg);
      continue;
    }
    const name = match[1] as string;
    let value = match[2];
    if (value === undefined) {
      const next = args[i + 1];
      if (BOOLEAN_FLAGS.has(name) || next === undefined || next.startsWith("-")) value = "true";
      else {
        value = next;
        i++;
      }
    }
    values.set(name, value);
    occurrences.push({ name, value });
  }
  return { values, occurrences, positional };
}

/** Go's strconv.ParseBool, which pflag uses for every boolean flag. */
export function parseBool(text: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return false;
  return undefined;
}

/** A boolean flag's value; undefined when it is not set or not a boolean pflag accepts. */
export function boolFlag(flags: Pick<KubeletFlags, "values">, name: string): boolean | undefined {
  const raw = flags.values.get(name);
  return raw === undefined ? undefined : parseBool(raw);
}

/** kubelet's own arguments, skipping argv[0] (and "kubelet" after hyperkube). */
export function kubeletArgs(argv: readonly string[]): string[] {
  const rest = argv.slice(1);
  return argv[0]?.endsWith("hyperkube") && rest[0] === "kubelet" ? rest.slice(1) : rest;
}
