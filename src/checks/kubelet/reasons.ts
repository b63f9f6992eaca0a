/** Every reason the kubelet check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "kubelet",
  intro:
    "Condition `KubeletUnhealthy`. Every 10 s node-doctor looks for kubelet in the\nhost's /proc, asks its health endpoint (`http://127.0.0.1:10248/healthz` by\ndefault, 2 s timeout), reads `kubelet.service` from the unit tree and from\nsystemd over the host's system bus, and once a minute reads the Node and its\nLease from the API server. See [kubelet.md](kubelet.md) for what the pod\nneeds (hostNetwork, host /proc, the bus socket).",
  reasons: {
    KubeletRunning: {
      severities: ["ok"],
      meaning: "kubelet's process exists, its healthz answers `ok`, and nothing below applies. The message gives the pid, uptime and the unit's state.",
      remedy: "none.",
      repair: "none",
    },
    NotAKubernetesNode: {
      severities: ["ok"],
      meaning:
        "the host has no kubelet process, no `kubelet.service` unit, no kubelet binary, no `/var/lib/kubelet`, and nothing answers kubelet's healthz (a laptop running node-doctor). This one finding replaces every other kubelet finding; it is logged once.",
      remedy: "none; run node-doctor on a node, or with `--host-root` pointing at a copy of a node's files.",
      repair: "none",
    },
    KubeletNotRunning: {
      severities: ["critical"],
      meaning:
        "no kubelet process, although the host is a node (unit, binary or state dir exist). The message adds systemd's view (`ActiveState`, `SubState`, `Result`, exit status, restarts) and the healthz outcome.",
      remedy:
        "`journalctl -u kubelet -n 100 --no-pager` says why it stopped (flag and config errors also show on `KubeletConfigInvalid`); fix it, then `systemctl restart kubelet`.",
      repair: "restart-kubelet",
    },
    KubeletHealthzFailing: {
      severities: ["critical"],
      meaning:
        "the kubelet process exists but its healthz endpoint refuses the connection, times out (2 s) or answers something other than `200 ok`. The message quotes the URL and the outcome.",
      remedy:
        "`curl -sS 'http://127.0.0.1:10248/healthz?verbose'` shows the failing check; `journalctl -u kubelet` the cause; a hung kubelet needs `systemctl restart kubelet`.",
      repair: "restart-kubelet",
    },
    KubeletRestartingFrequently: {
      severities: ["warning", "critical"],
      severity: "warning at `checks.kubelet.restartsWarning` (3) restarts within `restartWindowSeconds` (600 s), critical at `restartsCritical` (6).",
      meaning:
        "kubelet keeps exiting and being restarted. Restarts are counted across runs from a new pid (or start time) and from systemd's `NRestarts`, which also catches restarts faster than the check's interval.",
      remedy: "`journalctl -u kubelet -b --no-pager | grep -iE 'fatal|failed|error' | tail -50`.",
      repair: "none",
    },
    KubeletServiceDisabled: {
      severities: ["warning", "critical"],
      severity:
        "critical when the unit is disabled (or masked) and kubelet is not running ([the reboot without kubelet](incidents.md#the-reboot-without-kubelet): it did not start after a reboot); warning when kubelet runs now but would not start at the next boot.",
      meaning:
        "kubelet would not start at boot: its unit (the distribution's: `kubelet.service`, `k3s-agent.service`, `rke2-agent.service`) has no `*.wants/` link and systemd's `UnitFileState` is `disabled`/`masked`, and no enabled unit of the distribution starts it either. On EKS Amazon Linux 2023 `kubelet.service` is never enabled: the enabled `nodeadm-run.service` starts it at every boot, so only that unit's enablement counts there.",
      remedy:
        "`systemctl enable --now <unit>`, where the unit is kubelet's, or the one that starts it on this distribution (`nodeadm-run` on EKS AL2023); `systemctl unmask <unit>` first when masked.",
      repair: "enable-unit",
    },
    MultipleKubeletProcesses: {
      severities: ["warning"],
      meaning: "more than one kubelet process runs; they fight over the node's ports, files and Node object. The message lists the pids.",
      remedy: "`ps -o pid,ppid,lstart,args -p <pids>`; stop the one not started by `kubelet.service`.",
      repair: "none",
    },
    NodeIPNotPresent: {
      severities: ["critical"],
      meaning:
        "the node IP kubelet is told to use (`--node-ip` on its command line, or in `/var/lib/kubelet/kubeadm-flags.env`, `/etc/default/kubelet` or `/etc/sysconfig/kubelet` while it is down; otherwise the Node's `InternalIP`) is on none of the node's interfaces ([the reboot without kubelet](incidents.md#the-reboot-without-kubelet): a slow wireless interface). The message lists the addresses that are present.",
      remedy:
        "bring the interface up (`ip -br addr`), and make kubelet wait for the network: a drop-in with `After=network-online.target` and `Wants=network-online.target`, then `systemctl daemon-reload && systemctl restart kubelet`.",
      repair: "none",
    },
    NodeNotRegistered: {
      severities: ["critical"],
      meaning:
        "kubelet runs but the API server has no Node by this node's name ([the unregistered node](incidents.md#the-unregistered-node): kubelet 1.7 ignored its `--kubeconfig`).",
      remedy:
        "`journalctl -u kubelet | grep -iE 'regist|api server|unauthorized'`; check `--kubeconfig` (and `--require-kubeconfig` on kubelet < 1.8) and `--hostname-override`.",
      repair: "none",
    },
    KubeletLeaseStale: {
      severities: ["warning", "critical"],
      severity:
        "critical when the Lease `kube-node-lease/<node>` was last renewed more than `leaseStaleFactor` (4) lease durations ago, measured with the clock check's trusted time; warning when the Node has no Lease at all.",
      meaning: "the control plane no longer hears kubelet's heartbeat.",
      remedy:
        "`journalctl -u kubelet | grep -iE 'lease|unauthorized|timeout'`; check the API server is reachable and kubelet's client certificate (`KubeletCertificateInvalid`).",
      repair: "restart-kubelet",
    },
    KubeletRegistrationUnknown: {
      severities: ["unknown"],
      meaning:
        "registration and Lease could not be checked: no API server is configured, or reading the Node or Lease failed (the message quotes the error). Never reported as ok.",
      remedy: "give node-doctor API access (in-cluster service account or `--kubeconfig`), or fix what the error names.",
      repair: "none",
    },
    NodeConditionCollision: {
      severities: ["warning"],
      meaning:
        "a condition of one of node-doctor's types on this Node is written by another field manager, as its managedFields say: another manager added it (node-problem-detector's stock health checkers `health-checker-kubelet.json` and `health-checker-containerd.json` write `KubeletUnhealthy` and `ContainerRuntimeUnhealthy`), so node-doctor neither writes nor removes it; or node-doctor added it and another manager changed its status, reason or message within `staleConditionSeconds`. The message names the managers and what they hold (docs/conditions.md, Ownership).",
      remedy:
        "choose one writer: disable the node-doctor check that feeds the condition, or stop the other writer (for node-problem-detector, drop its plugin from `--config.custom-plugin-monitor`) and delete its condition with the `kubectl patch` command in the remedy; node-doctor then writes its own.",
      repair: "none",
    },
    StaleNodeCondition: {
      severities: ["warning"],
      meaning:
        "a condition on this Node that neither kubelet nor node-doctor owns has a `lastHeartbeatTime` older than `staleConditionSeconds` (1 h), or is one a newer kubelet no longer writes (`OutOfDisk` after 1.13, `ConfigOK`) — [the stale condition](incidents.md#the-stale-condition). The message names the condition, its status and age. node-doctor never deletes other writers' conditions.",
      remedy:
        'if nothing still writes it, remove it with the command in the remedy: `kubectl patch node <node> --subresource=status --type=json -p \'[{"op":"test","path":"/status/conditions/<i>/type","value":"<Type>"},{"op":"remove","path":"/status/conditions/<i>"}]\'`.',
      repair: "none",
    },
  },
});
