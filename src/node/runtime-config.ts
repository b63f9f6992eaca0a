/**
 * The cgroup driver a container runtime's own configuration selects, read
 * from its files: containerd's config.toml (versions 1, 2 and 3) and CRI-O's
 * crio.conf with its drop-ins. Pure functions over file contents; problems
 * (bad TOML, wrong types) come back as data naming the file and line.
 */
import { TomlError, parseToml, tomlGet, type TomlTable } from "./toml.js";

/** A runtime config file as read: its text, or why there is none. */
export type RuntimeConfigFile =
  { path: string; state: "missing" } | { path: string; state: "unreadable"; problem: string } | { path: string; state: "ok"; text: string };

export type ContainerdCgroup =
  | { ok: true; systemd: boolean; detail: string }
  | { ok: false; problem: string }
  /** The CRI plugin is disabled: containerd is not kubelet's runtime here. */
  | { ok: true; criDisabled: true }
  /** The file imports others, which containerd merges over it: the driver is not decided by this file alone. */
  | { ok: true; imports: string[] };

/** Reads the default runtime's SystemdCgroup from containerd's config (versions 1, 2 and 3). */
export function containerdCgroup(path: string, text: string | undefined): ContainerdCgroup {
  if (text === undefined)
    return { ok: true, systemd: false, detail: `${path} does not exist, so containerd uses its default SystemdCgroup = false (cgroupfs)` };
  let doc: TomlTable;
  try {
    doc = parseToml(text);
  } catch (error) {
    return { ok: false, problem: `${path}: ${error instanceof TomlError ? error.message : String(error)}` };
  }
  const version = doc["version"] ?? 1;
  if (version !== 1 && version !== 2 && version !== 3)
    return { ok: false, problem: `${path}: version = ${JSON.stringify(version)}; containerd knows versions 1, 2 and 3` };
  const criName = version === 3 ? "io.containerd.cri.v1.runtime" : version === 2 ? "io.containerd.grpc.v1.cri" : "cri";
  const disabled = doc["disabled_plugins"];
  if (Array.isArray(disabled) && disabled.some((p) => p === "cri" || p === "io.containerd.grpc.v1.cri" || p === criName))
    return { ok: true, criDisabled: true };
  const imports = doc["imports"];
  if (Array.isArray(imports) && imports.length > 0) return { ok: true, imports: imports.map((i) => String(i)) };
  const cri = ["plugins", criName];
  const runtimeName = tomlGet(doc, [...cri, "containerd", "default_runtime_name"]) ?? "runc";
  if (typeof runtimeName !== "string") return { ok: false, problem: `${path}: default_runtime_name must be a string` };
  const optionsPath = [...cri, "containerd", "runtimes", runtimeName, "options"];
  const systemdCgroup = tomlGet(doc, [...optionsPath, "SystemdCgroup"]);
  const table = `[${optionsPath.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join(".")}]`;
  if (systemdCgroup !== undefined && typeof systemdCgroup !== "boolean")
    return { ok: false, problem: `${path}: SystemdCgroup in ${table} must be true or false, got ${JSON.stringify(systemdCgroup)}` };
  if (systemdCgroup !== undefined) return { ok: true, systemd: systemdCgroup, detail: `${path} sets SystemdCgroup = ${systemdCgroup} in ${table}` };
  // The legacy runtime (io.containerd.runtime.v1.linux) used the plugin-wide switch.
  if (version !== 3 && tomlGet(doc, [...cri, "systemd_cgroup"]) === true)
    return { ok: true, systemd: true, detail: `${path} sets systemd_cgroup = true for the CRI plugin` };
  return { ok: true, systemd: false, detail: `${path} does not set SystemdCgroup in ${table}, so containerd uses cgroupfs` };
}

/** CRI-O's cgroup_manager from crio.conf and its drop-ins (later files win); CRI-O's default is systemd. */
export function crioCgroup(files: readonly RuntimeConfigFile[]): { ok: true; systemd: boolean; detail: string } | { ok: false; problem: string } {
  let manager: { value: string; path: string } | undefined;
  for (const file of files) {
    if (file.state === "missing") continue;
    if (file.state === "unreadable") return { ok: false, problem: `${file.path} cannot be read: ${file.problem}` };
    let doc: TomlTable;
    try {
      doc = parseToml(file.text);
    } catch (error) {
      return { ok: false, problem: `${file.path}: ${error instanceof TomlError ? error.message : String(error)}` };
    }
    const value = tomlGet(doc, ["crio", "runtime", "cgroup_manager"]);
    if (value === undefined) continue;
    if (value !== "systemd" && value !== "cgroupfs")
      return { ok: false, problem: `${file.path}: cgroup_manager in [crio.runtime] must be "systemd" or "cgroupfs", got ${JSON.stringify(value)}` };
    manager = { value, path: file.path };
  }
  if (!manager)
    return {
      ok: true,
      systemd: true,
      detail: `no cgroup_manager in ${files.map((f) => f.path).join(" or ") || "/etc/crio/crio.conf"}, so CRI-O uses its default, systemd`,
    };
  return { ok: true, systemd: manager.value === "systemd", detail: `${manager.path} sets cgroup_manager = "${manager.value}" in [crio.runtime]` };
}
