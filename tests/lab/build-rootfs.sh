#!/bin/bash
# Build (once) the cached Debian bookworm root filesystem shared read-only by every lab host,
# then apply the lab customisations. Idempotent: guarded by marker files.
# Usage: tests/lab/build-rootfs.sh [ROOTFS]   (default $RAMPART_LAB_CACHE/rootfs-v1)
# The mirror is read from this machine's own apt sources, so no host name is written here.
set -euo pipefail
CACHE=${RAMPART_LAB_CACHE:-/var/cache/rampart-lab}
ROOTFS=${1:-$CACHE/rootfs-v1}
MIRROR=${MIRROR:-$(grep -hE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')}
[ -n "$MIRROR" ] || MIRROR=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$MIRROR" ] || { echo "build-rootfs: no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }
# What the roles and the peers' benchmark need on a host. The hosts have no network, so all of
# it must be in the root (docker.io comes from the lab's local repository instead).
PKGS=openssh-server,systemd,systemd-sysv,dbus,sudo,python3,python3-apt,iptables,ufw,fail2ban,\
redis-server,redis-tools,unattended-upgrades,procps,iproute2,curl,wget,git,unzip,htop,tmux,\
ca-certificates,nftables,python3-systemd,less,iputils-ping,kmod,tzdata,netcat-openbsd,gnupg,\
apt-transport-https,lsb-release,cron
if [ -e "$ROOTFS/.lab-customised" ]; then echo "rootfs ready at $ROOTFS (cached)"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "build-rootfs: must run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-rootfs: debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
# One builder at a time (up.sh and repo.sh both call this); the others wait, then find it built.
mkdir -p "$CACHE/locks"
exec 9>"$CACHE/locks/rootfs"
flock -w 1800 9 || { echo "build-rootfs: timed out waiting for another build" >&2; exit 1; }
SECONDS=0
if [ ! -e "$ROOTFS/.debootstrap-done" ]; then
  rm -rf "$ROOTFS.partial"
  mkdir -p "$(dirname "$ROOTFS")"
  for attempt in 1 2; do
    if debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOTFS.partial" "$MIRROR"; then break; fi
    [ "$attempt" = 2 ] && { echo "build-rootfs: debootstrap failed twice" >&2; exit 1; }
    rm -rf "$ROOTFS.partial"
  done
  touch "$ROOTFS.partial/.debootstrap-done"
  rm -rf "$ROOTFS"; mv "$ROOTFS.partial" "$ROOTFS"
fi
if [ ! -e "$ROOTFS/.lab-customised" ]; then
  chroot "$ROOTFS" /bin/sh -ec '
    rm -f /etc/ssh/ssh_host_*              # per-host keys live in each host upper dir
    : > /etc/machine-id                    # systemd derives a fresh id per container boot
    systemctl enable ssh fail2ban redis-server >/dev/null 2>&1 || true
    # quiet, deterministic hosts: no console getty, no NTP, no background apt/dpkg lock holders
    systemctl mask console-getty.service systemd-timesyncd.service apt-daily.timer \
      apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
    # unprivileged admin user "lab" with passwordless sudo (for become/sudo tests)
    id lab >/dev/null 2>&1 || useradd -m -s /bin/bash lab
    echo "lab ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/lab; chmod 440 /etc/sudoers.d/lab
    # no Debian source inside: hosts have no network, and apt-get update would wait on DNS
    rm -f /etc/apt/sources.list; rm -f /etc/apt/sources.list.d/*
    apt-get clean
  '
  touch "$ROOTFS/.lab-customised"
fi
echo "rootfs ready at $ROOTFS: $(du -sh "$ROOTFS" | cut -f1), built in ${SECONDS}s"
