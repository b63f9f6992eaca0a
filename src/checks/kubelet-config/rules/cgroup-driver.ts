/** Rule: kubelet's cgroup driver against the runtime's. */
import type { ContainerdConfig } from "../../../node/containerd-config.js";
import { containerdCgroupOf, containerdConfigFromText } from "../../../node/containerd-config.js";
import { atLeast } from "../../../node/kubelet/version.js";
import { crioCgroup } from "../../../node/runtime-config.js";
import type { Finding } from "../../../types.js";
import { configAt, finding, flagWhere, type KubeletConfigFacts, R, stringSetting } from "./common.js";

type Runtime = "containerd" | "crio" | undefined;

/** Which runtime kubelet talks to, from its endpoint (or the default since 1.27). */
export function kubeletRuntime(facts: KubeletConfigFacts): Runtime {
  const endpoint = stringSetting(facts, "container-runtime-endpoint", "containerRuntimeEndpoint");
  if (endpoint) return /containerd/.test(endpoint.value) ? "containerd" : /crio/.test(endpoint.value) ? "crio" : undefined;
  const version = facts.version?.version;
  if (version) return atLeast(version, 1, 27) ? "containerd" : undefined; // before: dockershim (<1.24) or an endpoint was required
  const containerd = containerdOf(facts);
  return containerd?.ok && !containerd.defaults ? "containerd" : undefined;
}

/** The runtime's cgroup driver as its config says, or why it cannot be told. */
export function runtimeDriver(
  facts: KubeletConfigFacts,
  runtime: "containerd" | "crio",
):
  | { ok: true; systemd: boolean; detail: string; files: string; setIn?: string }
  | { ok: false; problem: string; files: string; restart: string; fix: string }
  | undefined {
  if (runtime === "crio") {
    const files = facts.crioConfig ?? [];
    const paths = files.map((f) => f.path).join(", ") || "/etc/crio/crio.conf";
    const verdict = crioCgroup(files);
    return verdict.ok
      ? { ...verdict, files: paths }
      : { ...verdict, files: paths, restart: "systemctl restart crio", fix: "`crio config` prints a valid configuration" };
  }
  const config = containerdOf(facts);
  if (!config) return undefined;
  const path = facts.containerdConfig?.path ?? (config.ok ? config.files[0] : config.path) ?? "containerd's config";
  const fix = "`containerd config dump` shows what containerd reads; `containerd config default` prints a valid one";
  const verdict = containerdCgroupOf(config, path);
  if (!verdict.ok) return { ...verdict, files: config.ok ? path : config.path, restart: "systemctl restart containerd", fix };
  if ("criDisabled" in verdict) return undefined;
  return { ...verdict, files: config.ok && config.files.length > 0 ? config.files.join(", ") : path };
}

/** containerd's config as the gatherer read it (imports followed), else the single file the facts hold. */
export function containerdOf(facts: KubeletConfigFacts): ContainerdConfig | undefined {
  if (facts.containerd) return facts.containerd;
  const file = facts.containerdConfig;
  if (!file) return undefined;
  if (file.state === "unreadable") return { ok: false, path: file.path, problem: `${file.path} cannot be read: ${file.problem}` };
  return containerdConfigFromText(file.path, file.state === "ok" ? file.text : undefined);
}

export function judgeCgroupDriver(facts: KubeletConfigFacts): Finding[] {
  const runtime = kubeletRuntime(facts);
  if (!runtime) return [];
  const name = runtime === "crio" ? "CRI-O" : "containerd";
  const driver = runtimeDriver(facts, runtime);
  if (!driver) return [];
  if (!driver.ok) {
    // A version node-doctor does not know, or a file the running runtime accepted: node-doctor's reading failed, not the runtime.
    const notKnown = /node-doctor reads containerd config versions/.test(driver.problem);
    // Only a runtime known not to answer is refusing the file; while nobody has said, it may be running on it.
    if (notKnown || facts.runtimeAnswers !== false) {
      const answers =
        facts.runtimeAnswers === true
          ? `; ${name} answers over CRI, so it accepted the file`
          : facts.runtimeAnswers === undefined
            ? `; whether ${name} answers over CRI is not known (the runtime check has not said), so it is not claimed to refuse the file`
            : "";
      return [
        finding(
          "unknown",
          R.RuntimeConfigUnreadable,
          `node-doctor could not read ${name}'s config: ${driver.problem}${answers}; kubelet's cgroup driver was not compared with ${name}'s.`,
          `Nothing to fix on the node if ${name} runs; check the drivers by hand: \`${runtime === "crio" ? "crio config | grep cgroup_manager" : "containerd config dump | grep SystemdCgroup"}\` against kubelet's cgroupDriver.`,
          { runtime, files: driver.files, problem: driver.problem },
        ),
      ];
    }
    return [
      finding(
        "warning",
        R.RuntimeConfigInvalid,
        `${name}'s config is unusable: ${driver.problem}; ${name} refuses to start with an invalid file, and kubelet's cgroup driver cannot be compared with ${name}'s.`,
        `Fix ${driver.files} (${driver.fix}), then \`${driver.restart}\`.`,
        { runtime, files: driver.files, problem: driver.problem },
      ),
    ];
  }
  const kubeletDriver = stringSetting(facts, "cgroup-driver", "cgroupDriver") ?? { value: "cgroupfs", source: "kubelet's default", from: "default" as const };
  const runtimeValue = driver.systemd ? "systemd" : "cgroupfs";
  if (kubeletDriver.value === runtimeValue) return [];
  const version = facts.version?.version;
  // kubelet 1.31+ asks a runtime that supports it (containerd 2.0+) for its driver (KubeletCgroupDriverFromCRI) and then ignores its own setting.
  const mayAskRuntime = version !== undefined && atLeast(version, 1, 31);
  const kubeletWhere =
    kubeletDriver.from === "flag" ? `--cgroup-driver ${flagWhere(facts, "cgroup-driver")}` : `cgroupDriver in ${configAt(facts, "cgroupDriver")}`;
  const runtimeFix =
    runtime === "crio"
      ? `\`cgroup_manager = "systemd"\` under [crio.runtime] in ${driver.setIn ?? driver.files}`
      : `\`SystemdCgroup = true\` under the runc runtime's options in ${driver.files}`;
  return [
    finding(
      mayAskRuntime ? "warning" : "critical",
      R.CgroupDriverMismatch,
      `kubelet uses the ${kubeletDriver.value} cgroup driver (${kubeletDriver.source}) but ${name} uses ${runtimeValue} (${driver.detail}); pods fail to start or run outside kubelet's resource accounting${mayAskRuntime ? (runtime === "containerd" ? " (unless containerd is 2.0 or later, which tells kubelet 1.31+ its driver)" : " (unless CRI-O tells kubelet 1.31+ its driver)") : ""}.`,
      `Use the same driver on both, systemd on systemd hosts: set ${runtimeFix} and \`cgroupDriver: systemd\` via ${kubeletWhere}, then \`systemctl restart ${runtime} kubelet\`.`,
      { kubelet: kubeletDriver.value, kubeletSource: kubeletDriver.source, runtime, runtimeDriver: runtimeValue, runtimeSource: driver.detail },
    ),
  ];
}
