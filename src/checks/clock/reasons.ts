/** Every reason the clock check emits: the one source of its section in docs/reasons.md (npm run docs). */
import { defineReasons } from "../../types.js";

export const REASONS = defineReasons({
  check: "clock",
  intro:
    "Condition `ClockSkewed`. The node's clock is compared with the API server's\n(the `Date` header of `GET /version`, 1 s resolution, bounded by the round\ntrip: the offset is reported as `offset ± uncertainty`; asked at most once\nper `apiServerPollSeconds`, default 120 s) and with NTP (an\nSNTP query, RFC 4330, to the servers the node's own chrony, ntpd or\nsystemd-timesyncd configuration names, or `checks.clock.ntpServers`; at most\nonce per `ntpPollSeconds`, default 300 s). Offsets are reference minus\nlocal: positive when the node's clock is behind. Severity is judged on the\nsmallest offset the measurement allows (`|offset| − uncertainty`), so a\nslow round trip never raises a false alarm. The best fresh estimate corrects\nthe time other checks use (the certificates check judges NotBefore and\nNotAfter against it).",
  reasons: {
    ClockOffsetOk: {
      severities: ["ok"],
      meaning: "the clock agrees with the named reference within the warning threshold; the message gives the offset and its uncertainty.",
      remedy: "none.",
      repair: "none",
    },
    ApiServerOffsetHigh: {
      severities: ["warning", "critical"],
      severity: "warning when the offset exceeds `apiServerWarningSeconds` (default 2 s), critical beyond `apiServerCriticalSeconds` (default 30 s).",
      meaning:
        "the node's clock disagrees with the API server's. Beyond a few seconds leases and log correlation suffer; hours off (a clock reset by a power cut, [the certificate from the future](incidents.md#the-certificate-from-the-future)) and TLS breaks: kubelet rotates its client certificate into one whose NotBefore lies in the future, and the API server answers Unauthorized. When NTP agrees with the node, the message says so: the API server's clock may be the wrong one.",
      remedy:
        "step the clock now — `chronyc makestep` (chrony) or `timedatectl set-ntp true && systemctl restart systemd-timesyncd` (timesyncd) — and check with `chronyc tracking` / `timedatectl status`. A clock more than 5 minutes off (hours, after a reboot or power cut) was set wrong, not drifting: the hardware clock lost the time — check the RTC battery (`hwclock --show` against the real time), then `hwclock --systohc`; and certificates kubelet rotated while the clock was wrong may be from the future: see `KubeletCertificateInvalid` and point `/var/lib/kubelet/pki/kubelet-client-current.pem` back at the newest `kubelet-client-<date>.pem` that is valid now.",
      repair: "none",
    },
    NtpOffsetHigh: {
      severities: ["warning", "critical"],
      severity: "warning beyond `ntpWarningSeconds` (default 0.1 s), critical beyond `ntpCriticalSeconds` (default 1 s).",
      meaning:
        "the node's clock disagrees with its NTP servers; the message names the server, its stratum, the offset and uncertainty, and where the server list came from.",
      remedy: "as ApiServerOffsetHigh; for a warning, make sure the time service reaches its servers (UDP port 123 out of the node).",
      repair: "none",
    },
    ApiServerTimeUnavailable: {
      severities: ["unknown"],
      meaning: "the API server could not be asked (the message quotes the error) or its reply had no `Date` header.",
      remedy: "check that the node reaches the API server (`kubectl get --raw /version` with the node's kubeconfig).",
      repair: "none",
    },
    NtpQueryFailed: {
      severities: ["unknown"],
      meaning:
        "no NTP server answered usefully within `ntpTimeoutSeconds` (default 2 s): no reply, connection refused, a name that does not resolve, a reply that is not NTP, a server that says its own clock is unsynchronised, or a kiss-o'-death (`DENY`, `RSTR`, `RATE`: the server refuses or rate-limits us; node-doctor then waits a full poll interval before asking again). The message names each server and its problem.",
      remedy: "open UDP port 123 from the node to its servers, or set `checks.clock.ntpServers` to servers it may use (`[]` stops NTP queries).",
      repair: "none",
    },
    NoClockReference: {
      severities: ["ok"],
      meaning:
        "there is nothing to compare the clock with: no API server (a laptop, a copy of a node's files) and no NTP server configured. Not an alarm; the clock simply was not judged.",
      remedy: "give node-doctor a kubeconfig, or set `checks.clock.ntpServers`.",
      repair: "none",
    },
    ClockNotSynchronized: {
      severities: ["warning"],
      meaning:
        "the clock has not been synchronised for longer than `notSynchronizedWarningSeconds` (default 1800 s), or no time service runs at all. Read, best first, from timedated's `NTPSynchronized` over the host's system bus (`/run/dbus/system_bus_socket`: the kernel's own sync flag, whichever of chronyd, ntpd or timesyncd steers the clock; asked at most once per `ntpPollSeconds`, since timedated is started on demand), then systemd-timesyncd's `/run/systemd/timesync/synchronized` (missing since the service started), then `/proc` (no chronyd, ntpd or systemd-timesyncd running).",
      remedy:
        "see what the service sees (`chronyc tracking`, `ntpq -p`, `timedatectl timesync-status`, `journalctl -u systemd-timesyncd`); usually its servers are unreachable over UDP port 123. With no service: install and enable chrony (`systemctl enable --now chronyd`) or `timedatectl set-ntp true`. Set `checks.clock.expectSyncService: false` when the clock is kept some other way.",
      repair: "none",
    },
    TimeSyncServiceOk: {
      severities: ["ok"],
      meaning:
        "the kernel (through timedated) or systemd-timesyncd reports the clock synchronised, or a time service runs and its state is not readable from files (then the NTP offset is the judge); also while a fresh service has not synchronised yet within `notSynchronizedWarningSeconds`.",
      remedy: "none.",
      repair: "none",
    },
    ClockJumped: {
      severities: ["warning"],
      severity: "warning, reported for `jumpReportSeconds` (default 1 h) after it is seen.",
      meaning:
        "between two runs the wall clock moved more than `jumpWarningSeconds` (default 10 s) away from the monotonic clock: something stepped it — a time service correcting a wrong clock (what happened after the power cut in [the certificate from the future](incidents.md#the-certificate-from-the-future)), an operator, or a VM resumed from suspend. The message gives the size, direction and times.",
      remedy:
        "find what stepped it (`journalctl -u chrony -u systemd-timesyncd` around the time given); if the clock was wrong before the step, anything stamped meanwhile is wrong too — check `KubeletCertificateInvalid` for a client certificate from the future.",
      repair: "none",
    },
  },
});
