/** Rule: where kubelet's logs go (the unregistered node, docs/incidents.md: the decisive warning was in a file, not the journal). */
import { atLeast } from "../../../node/kubelet/version.js";
import type { Finding } from "../../../types.js";
import { finding, flagWhere, type KubeletConfigFacts, parseFlagBool, R } from "./common.js";
import { sh, shellQuote } from "../../../text/shell.js";

const KLOG_SEVERITY_NAMES = ["INFO", "WARNING", "ERROR", "FATAL"];

export function judgeLogLocation(facts: KubeletConfigFacts): Finding[] {
  const flags = facts.flags.values;
  const logFlags = ["logtostderr", "log-dir", "log-file", "alsologtostderr", "stderrthreshold"].filter((f) => flags.has(f));
  if (logFlags.length === 0) return [];
  const version = facts.version?.version;
  if (version && atLeast(version, 1, 26)) return []; // removed flags: KubeletFlagRemoved says so
  const quoted = logFlags.map((f) => `--${f}=${flags.get(f)}`).join(" ");
  const toStderr = parseFlagBool(flags.get("logtostderr") ?? "true") ?? true;
  const alsoStderr = parseFlagBool(flags.get("alsologtostderr") ?? "false") ?? false;
  const evidence: Record<string, unknown> = { flags: Object.fromEntries(logFlags.map((f) => [f, flags.get(f)])) };
  if (toStderr) {
    const ignored = ["log-dir", "log-file"].filter((f) => flags.has(f));
    evidence["destination"] = "stderr";
    return [
      finding(
        "ok",
        R.KubeletLogLocation,
        `kubelet logs to stderr, which systemd keeps in the journal (${quoted})${ignored.length > 0 ? `; ${ignored.map((f) => `--${f}`).join(" and ")} ${ignored.length > 1 ? "are" : "is"} ignored because --logtostderr is true (the default)` : ""}.`,
        "Read kubelet's logs with `journalctl -u kubelet --since -1h`.",
        evidence,
      ),
    ];
  }
  const threshold = Number(flags.get("stderrthreshold") ?? 2);
  const stderrPart = alsoStderr
    ? "every line is also copied to stderr (the journal) because of --alsologtostderr"
    : `only ${KLOG_SEVERITY_NAMES[threshold] ?? "ERROR"} and worse reach stderr (\`journalctl -u kubelet\`), so warnings such as "No api server defined" appear only in the files`;
  const file = flags.get("log-file");
  if (file) {
    evidence["destination"] = file;
    return [
      finding(
        "ok",
        R.KubeletLogLocation,
        `kubelet logs to the file ${file}, not the journal (${quoted}); ${stderrPart}.`,
        `Read kubelet's logs in ${file}: \`${sh`tail -n 200 ${file}`}\`.`,
        evidence,
      ),
    ];
  }
  const dir = flags.get("log-dir") || "/tmp";
  evidence["destination"] = dir;
  return [
    finding(
      "ok",
      R.KubeletLogLocation,
      `kubelet logs to files in ${dir}${flags.get("log-dir") ? "" : " (the default when --log-dir is not set)"}, not the journal (${quoted}): ${dir}/kubelet.INFO, kubelet.WARNING and kubelet.ERROR point at the current files; ${stderrPart}.`,
      `Read the warnings first: \`${sh`tail -n 200 ${`${dir}/kubelet.WARNING`}`}\`; everything is in \`${shellQuote(`${dir}/kubelet.INFO`)}\`. To get them in the journal, set --logtostderr=true ${flagWhere(facts, "logtostderr")}.`,
      evidence,
    ),
  ];
}
