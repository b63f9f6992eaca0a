/**
 * Which pod and container a cgroup path belongs to, for kubelet's layouts:
 * cgroupfs (`/kubepods/burstable/pod<uid>/<container id>`) and systemd
 * (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope`,
 * `crio-<id>.scope`, `docker-<id>.scope`). The kernel names cgroups this way
 * in its OOM report (`task_memcg=`) and its pids-limit line.
 */
export interface CgroupOwner {
  /** The pod's UID, with dashes. */
  podUid?: string;
  /** The container's 64-hex id. */
  containerId?: string;
  /** Under kubelet's pods cgroup (kubepods) at all. */
  underKubepods: boolean;
}

const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:\/|$)/;
const CONTAINER_ID = /\/(?:(?:cri-containerd|crio|docker|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;

export function cgroupOwner(path: string): CgroupOwner {
  const pod = POD_UID.exec(path)?.[1];
  const container = CONTAINER_ID.exec(path)?.[1];
  return {
    ...(pod ? { podUid: pod.replaceAll("_", "-") } : {}),
    ...(container ? { containerId: container } : {}),
    underKubepods: /(?:^|\/)kubepods(?:[.\-/]|$)/.test(path),
  };
}
