/** Every reason of node-doctor's own the custom checks emit: the one source of their section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "custom",
  intro:
    "Checks an operator configures under `checks.custom` (docs/custom-checks.md). Each feeds\nits own condition type, and its `ok` and `problem` outcomes carry the reasons the\nconfiguration gives them. The reasons below are node-doctor's own: the default\nwhen `ok.reason` is not set, and the `npd-plugin` probe's answers other than ok\nand problem. When any other probe could not look (a file unreadable for the\nagent's own reasons, systemd and the unit's files both silent), the engine's\n`CheckFailed` or `CheckTimedOut` says why.",
  reasons: {
    CheckPassed: {
      severities: ["ok"],
      meaning: "the probe found what it was configured to expect; the message says what it saw. Used when the check sets no `ok.reason`.",
      repair: "none",
    },
    PluginUnknown: {
      severities: ["unknown"],
      meaning:
        "an `npd-plugin` exited with a code other than 0 (ok) or 1 (problem), which NPD's protocol reads as unknown, or it was killed by a signal. The message quotes its output.",
      remedy: "run the plugin by hand in the node-doctor container (`kubectl exec`) and see why it cannot tell; its stderr is in the agent's log.",
      repair: "none",
    },
    PluginTimedOut: {
      severities: ["unknown"],
      meaning:
        "an `npd-plugin` did not finish within its `timeoutSeconds`; node-doctor killed its whole process group (the script and every child it started). The message quotes what it printed so far.",
      remedy: "find what the plugin waits for (a hung mount, a command without a timeout); raise its `timeoutSeconds` only if the node is merely slow.",
      repair: "none",
    },
    PluginFailedToStart: {
      severities: ["unknown"],
      meaning:
        "an `npd-plugin` could not be started: its path does not exist in node-doctor's container, it is not executable, it names a missing interpreter in its `#!` line, or it has neither a `#!` line nor an ELF header (node-doctor runs no shell on its own).",
      remedy:
        "mount the script (a ConfigMap with `defaultMode: 0555`) at the configured path and start it with a `#!` line naming an interpreter the image has (`/bin/sh`, `/bin/bash`).",
      repair: "none",
    },
    PluginQueued: {
      severities: ["unknown"],
      meaning:
        "an `npd-plugin` did not get to run before its check's deadline: node-doctor runs at most 3 plugins at once (as NPD's default concurrency), and the others were still running.",
      remedy:
        "give npd-plugin checks longer intervals or shorter timeouts, or express what they check with a declarative probe (`file`, `sysctl`, `unit`, `tcp`, `http`).",
      repair: "none",
    },
  },
});
