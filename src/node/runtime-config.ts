/**
 * The cgroup driver a container runtime's own configuration selects, read
 * from its files: containerd's config.toml (versions 1 to 4, containerd-config.ts) and CRI-O's
 * crio.conf with its drop-ins. Pure functions over file contents; problems
 * (bad TOML, wrong types) come back as data naming the file and line.
 */
import { containerdCgroupOf, containerdConfigFromText, type ContainerdCgroup } from "./containerd-config.js";
import { TomlError, parseToml, tomlGet, type TomlTable } from "./toml.js";

/** A runtime config file as read: its text, or why there is none. */
export type RuntimeConfigFile =
  { path: string; state: "missing" } | { path: string; state: "unreadable"; problem: string } | { path: string; state: "ok"; text: string };

export type { ContainerdCgroup } from "./containerd-config.js";

/** One containerd config file's cgroup driver, its imports not followed (the checks read through readContainerdConfig). Pure. */
export function containerdCgroup(path: string, text: string | undefined): ContainerdCgroup {
  return containerdCgroupOf(containerdConfigFromText(path, text), path);
}

/** CRI-O's cgroup_manager from crio.conf and its drop-ins (later files win; `setIn` the file that decides); CRI-O's default is systemd. */
export function crioCgroup(
  files: readonly RuntimeConfigFile[],
): { ok: true; systemd: boolean; detail: string; setIn?: string } | { ok: false; problem: string } {
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
  return {
    ok: true,
    systemd: manager.value === "systemd",
    detail: `${manager.path} sets cgroup_manager = "${manager.value}" in [crio.runtime]`,
    setIn: manager.path,
  };
}
