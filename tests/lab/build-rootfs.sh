#!/bin/bash
# Build (once) the cached Debian root filesystem of one suite, shared read-only by every lab host
# of that suite, then apply the lab customisations. Idempotent: guarded by marker files.
# Usage: tests/lab/build-rootfs.sh [SUITE [ROOTFS]]
#   SUITE   bookworm (Debian 12, the default) or trixie (Debian 13; also the userland of the
#           Ubuntu 24.04-like hosts, see docs/lab.md)
#   ROOTFS  default $RAMPART_LAB_CACHE/rootfs-SUITE-v2
# The mirror is read from this machine's own apt sources, so no host name is written here.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
SUITE=${1:-bookworm}
lab_check_suite "$SUITE"
ROOTFS=${2:-$(lab_rootfs "$SUITE")}
# What the roles and the peers' benchmark need on a host. The hosts have no network, so all of
# it must be in the root (docker.io comes from the lab's local repository instead).
PKGS=openssh-server,systemd,systemd-sysv,dbus,sudo,python3,python3-apt,iptables,ufw,fail2ban,\
redis-server,redis-tools,unattended-upgrades,procps,iproute2,curl,wget,git,unzip,htop,tmux,\
ca-certificates,nftables,python3-systemd,less,iputils-ping,kmod,tzdata,netcat-openbsd,gnupg,\
apt-transport-https,lsb-release,cron
if [ -e "$ROOTFS/.lab-customised" ]; then echo "rootfs $SUITE ready at $ROOTFS (cached)"; exit 0; fi
[ "$(id -u)" = 0 ] || lab_die "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || lab_die "debootstrap missing: apt-get install debootstrap"
MIRROR=$(lab_mirror)
# One builder per suite at a time (up.sh, reset.sh and repo.sh all call this); the others wait,
# then find it built.
mkdir -p "$LAB_CACHE/locks"
exec 9>"$LAB_CACHE/locks/rootfs-$SUITE"
flock -w 1800 9 || lab_die "timed out waiting for another build of $SUITE"
if [ -e "$ROOTFS/.lab-customised" ]; then echo "rootfs $SUITE ready at $ROOTFS (built meanwhile)"; exit 0; fi
SECONDS=0
if [ ! -e "$ROOTFS/.debootstrap-done" ]; then
  rm -rf "$ROOTFS.partial"
  mkdir -p "$(dirname "$ROOTFS")"
  for attempt in 1 2; do
    if debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS.partial" "$MIRROR"; then break; fi
    [ "$attempt" = 2 ] && lab_die "debootstrap of $SUITE failed twice"
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
      apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
      >/dev/null 2>&1 || true
    # unprivileged admin user "lab" with passwordless sudo (for become/sudo tests)
    id lab >/dev/null 2>&1 || useradd -m -s /bin/bash lab
    echo "lab ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/lab; chmod 440 /etc/sudoers.d/lab
    # no Debian source inside: hosts have no network, and apt-get update would wait on DNS.
    # the lists debootstrap fetched stay, minutes old: like a fresh VPS image, a host starts with
    # young lists that do not cover the source it is given (the lab repository, added per host).
    rm -f /etc/apt/sources.list; rm -f /etc/apt/sources.list.d/*
    apt-get clean
  '
  touch "$ROOTFS/.lab-customised"
fi
echo "rootfs $SUITE ready at $ROOTFS: $(du -sh "$ROOTFS" | cut -f1), built in ${SECONDS}s"
