#!/usr/bin/env bash
# Installs the real tools the tests run against (Debian packages), idempotently.
# Quiet when everything is present; loud and non-zero when something cannot be installed.
set -euo pipefail

# binary -> Debian package
declare -A NEEDED=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [prometheus-node-exporter]=prometheus-node-exporter
  [containerd]=containerd
  [chronyd]=chrony
  [faketime]=faketime
  [dbus-daemon]=dbus
  [go]=golang-go
  [ip]=iproute2
  [nft]=nftables
  [unshare]=util-linux
  # The kernel and disk tests make an ext4 error happen on a loop-mounted image.
  [losetup]=mount
  [mkfs.ext4]=e2fsprogs
  [openssl]=openssl
  [journalctl]=systemd
  [busctl]=systemd
  [kubectl]=kubernetes-client
  [strace]=strace
  # The status page is tested in a real browser (playwright-core drives it).
  [chromium]=chromium
)
# Library packages with no binary to look for.
# sprig and yaml build the chart renderer (test/support/helm-render, with golang-go, which also stamps a kubelet binary).
# python3-dbus and python3-gi serve a systemd stand-in on a private bus for the D-Bus tests (test/support/fake-systemd.py).
# systemd-journal-remote writes real journal files for the kubelet-logs tests.
LIBRARIES=(golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev golang-gopkg-yaml.v2-dev python3-dbus python3-gi systemd-journal-remote)

missing=()
for binary in "${!NEEDED[@]}"; do
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$binary" >/dev/null 2>&1; then missing+=("${NEEDED[$binary]}"); fi
done
for lib in "${LIBRARIES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed"; then missing+=("$lib"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-setup: these Debian packages are needed and only root can install them: ${missing[*]}" >&2
    exit 1
  fi
  echo "test-setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Several checkouts may set up at once: one installer at a time, and apt waits for dpkg's lock.
  exec 9>/tmp/node-doctor-apt.lock
  flock 9
  apt_opts=(-qq -o DPkg::Lock::Timeout=600)
  if ! apt-get "${apt_opts[@]}" update >/tmp/node-doctor-apt.log 2>&1 || ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >>/tmp/node-doctor-apt.log 2>&1; then
    echo "test-setup: apt-get failed installing ${missing[*]}; see /tmp/node-doctor-apt.log:" >&2
    tail -20 /tmp/node-doctor-apt.log >&2
    exit 1
  fi
fi

# Verify, so a package that installs but lacks the binary fails here, not mid-test.
for binary in "${!NEEDED[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$binary" >/dev/null 2>&1 || { echo "test-setup: $binary is still missing after installing ${NEEDED[$binary]}" >&2; exit 1; }
done
