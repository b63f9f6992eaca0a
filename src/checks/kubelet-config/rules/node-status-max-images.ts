/** Rule: --node-status-max-images / nodeStatusMaxImages. */
import type { Finding } from "../../../types.js";
import { configAt, configValue, finding, flagWhere, type KubeletConfigFacts, R, RESTART } from "./common.js";

export function judgeNodeStatusMaxImages(facts: KubeletConfigFacts): Finding[] {
  const flag = facts.flags.values.get("node-status-max-images");
  let value: number;
  let source: string;
  if (flag !== undefined) {
    source = `--node-status-max-images=${flag}`;
    if (!/^[+-]?\d+$/.test(flag.trim())) {
      return [
        finding(
          "critical",
          R.NodeStatusMaxImagesInvalid,
          `${source} is not an integer; kubelet exits at start with "invalid argument".`,
          `Set --node-status-max-images to an integer of -1 or more (-1: no limit; default 50) ${flagWhere(facts, "node-status-max-images")}, ${RESTART}.`,
          {
            flag: "node-status-max-images",
            value: flag,
          },
        ),
      ];
    }
    value = Number(flag);
  } else {
    const fromConfig = configValue(facts, "nodeStatusMaxImages");
    if (typeof fromConfig !== "number" || !Number.isInteger(fromConfig)) return [];
    value = fromConfig;
    source = `nodeStatusMaxImages: ${fromConfig} in ${configAt(facts, "nodeStatusMaxImages")}`;
  }
  if (value >= -1) return [];
  const where =
    flag !== undefined
      ? `--node-status-max-images ${flagWhere(facts, "node-status-max-images")}`
      : `nodeStatusMaxImages in ${configAt(facts, "nodeStatusMaxImages")}`;
  return [
    finding(
      "critical",
      R.NodeStatusMaxImagesInvalid,
      `${source} is below -1; kubelet exits at start with "nodeStatusMaxImages (${value}) must be -1 or greater".`,
      `Set ${where} to -1 (no limit), 0 or more (default 50), ${RESTART}.`,
      { flag: "node-status-max-images", value, source },
    ),
  ];
}
