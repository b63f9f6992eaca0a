/** Rule: swap on while failSwapOn is true. */
import type { Finding } from "../../../types.js";
import { boolSetting, configAt, finding, flagWhere, type KubeletConfigFacts, R, RESTART } from "./common.js";

/** Active swap areas from /proc/swaps (a header line, then one line per area). */
export function parseProcSwaps(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name !== "");
}

export function judgeSwap(facts: KubeletConfigFacts): Finding[] {
  if (!facts.swaps?.ok || facts.swaps.active.length === 0) return [];
  const failSwapOn = boolSetting(facts, "fail-swap-on", "failSwapOn", true);
  if (!failSwapOn.value) return [];
  const where =
    failSwapOn.from === "flag"
      ? `--fail-swap-on=false ${flagWhere(facts, "fail-swap-on")}`
      : `\`failSwapOn: false\` and \`memorySwap: {swapBehavior: LimitedSwap}\` (kubelet 1.28+) in ${configAt(facts, "failSwapOn")}`;
  return [
    finding(
      "critical",
      R.SwapEnabledWithFailSwapOn,
      `Swap is on (${facts.swaps.active.join(", ")} in /proc/swaps) while kubelet has failSwapOn true (${failSwapOn.source}); kubelet exits at start with "running with swap on is not supported, please disable swap".`,
      `Turn swap off: \`swapoff -a\`, comment out the swap lines in /etc/fstab and mask swap units (\`systemctl mask <name>.swap\`, zram-generator) so it stays off after reboot. Or, to run with swap, set ${where}, ${RESTART}.`,
      { swaps: facts.swaps.active, failSwapOn: failSwapOn.source },
    ),
  ];
}
