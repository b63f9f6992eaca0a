/** Every reason the engine emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../types.js";

export const REASONS = defineReasons({
  check: "engine",
  intro:
    "Findings the engine makes when a check could not look, and when a check\nreported more than the engine keeps. They feed every condition the check owns.",
  reasons: {
    CheckFailed: {
      severities: ["unknown"],
      meaning:
        "the check threw while looking (a file it needs is unreadable, a socket refused, the API server errored). The message quotes the error with the path or endpoint.",
      remedy: "fix what the message names; `kubectl logs` of the node-doctor pod on that node has the details.",
      repair: "none",
    },
    CheckTimedOut: {
      severities: ["unknown"],
      meaning: "the check did not finish within its `timeoutSeconds` (a hung NFS mount, a runtime socket that accepts but never answers, a hung kubelet).",
      remedy: "look at what the check reads (the message names the check); raise `checks.<name>.timeoutSeconds` only if the node is merely slow.",
      repair: "none",
    },
    CheckOverrun: {
      severities: ["unknown"],
      meaning:
        "the previous run of the check is still going after its timeout (it is stuck in I/O that could not be interrupted); node-doctor does not start another on top. `/readyz` reports the check as stuck.",
      remedy:
        "the usual cause is a hung filesystem; `cat /proc/<pid>/stack` of the agent shows where it waits. Restarting the pod clears it once the mount recovers.",
      repair: "none",
    },
    FindingsCapped: {
      severities: ["warning", "critical", "unknown", "ok"],
      meaning:
        "one run of the check reported more than 100 findings (10,000 stale conditions on the Node, a directory of thousands of broken files): the worst 100 are kept and this one finding per condition counts the rest by reason and quotes the first of them, so `/findings`, Events and metrics stay bounded.",
      remedy: "fix what the kept findings say; the ones left out are of the same kinds, counted in the message and in `evidence.reasons`.",
      repair: "none",
    },
  },
});
