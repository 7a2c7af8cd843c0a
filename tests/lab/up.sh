#!/bin/bash
# up.sh N [--os KIND] — boot lab hosts h1..hN (1..250), systemd as PID 1 under systemd-nspawn, each on its own overlayfs over the shared cached root and in its own network
# namespace rampart-hN (10.213.N.2/24 inside on eth0, 10.213.N.1/24 on veth rp-hN outside).
# Writes id_lab, known_hosts, ssh_config, hosts.txt, inventory.toml, inventory.ini into
# $RAMPART_LAB (default /var/tmp/rampart-lab). See docs/lab.md.
#
# Idempotent: running hosts are left alone, missing ones are started (from a fresh upper dir,
# keeping their host key), and state of this lab's naming left by a killed run (mounts, netns,
# veths, container processes, pid files) is cleared first.
#
# KIND (--os, or env LAB_OS) is what the hosts this call starts are: bookworm (Debian 12, the
# default), trixie (Debian 13) or ubuntu (Ubuntu 24.04-like on trixie's userland; docs/lab.md).
# A host keeps its kind across reset.sh; running hosts are left as they are, so
#   up.sh 24; up.sh 28 --os trixie; up.sh 32 --os ubuntu
# gives h1-h24 bookworm, h25-h28 trixie and h29-h32 ubuntu, as does, in one call,
#   LAB_OS_OF="trixie=25-28 ubuntu=29-32" up.sh 32
#
# Env: LAB_DOCKER=1      hosts that can run dockerd (own cgroup, keyring syscalls, rw cgroup v1,
#                        /var/lib/docker on the machine's ext4); remembered per host
#      LAB_REPO=0        no offline apt repository (default 1: tests/lab/repo.sh, /srv/lab-repo)
#      LAB_WAIT_RUNNING=0  wait for sshd banners only, not for systemd to settle
#      LAB_BOOT_TIMEOUT  seconds (default 60 + 2 per host); LAB_NSPAWN_ARGS extra nspawn args
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

usage() { echo "usage: ${0##*/} N [--os bookworm|trixie|ubuntu]   (boot lab hosts h1..hN, N in 1..$LAB_MAX)"; }
N=''
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --os) [ -n "${2:-}" ] || lab_die "--os needs a kind: $LAB_KINDS"; export LAB_OS=$2; shift 2 ;;
    --os=*) export LAB_OS=${1#--os=}; shift ;;
    *) [ -z "$N" ] || { usage >&2; exit 2; }; N=$1; shift ;;
  esac
done
[ -n "$N" ] || { usage >&2; exit 2; }
if ! [[ $N =~ ^[1-9][0-9]{0,2}$ ]] || [ "$N" -gt "$LAB_MAX" ]; then lab_die "N must be 1..$LAB_MAX, got '$N'"; fi
[ -z "${LAB_OS:-}" ] || lab_check_os "$LAB_OS"
lab_require_root
t0=$(lab_now)
mkdir -p "$LAB_HOSTS" "$LAB/locks"
lab_lock_lab -x

# Refuse before touching anything if our subnets are someone else's.
mapfile -t want < <(seq 1 "$N")
lab_check_subnets "${want[@]}"

# The shared roots and the offline repositories are built once and cached: those of the kinds
# of the hosts this call may start.
declare -A suites=()
for i in "${want[@]}"; do
  lab_nspawn_pid "$i" >/dev/null && continue
  eval "$(lab_host_options "$i")"
  # shellcheck disable=SC2154  # os and repo come from lab_host_options
  suites[$(lab_suite "$os")]=$repo
done
for s in "${!suites[@]}"; do
  "$HERE/build-rootfs.sh" "$s"
  [ "${suites[$s]}" = 1 ] && "$HERE/repo.sh" "$s"
done
lab_raise_inotify
lab_client_key
t_cache=$(lab_since "$t0"); t0=$(lab_now)

# Clear what a killed run left: every host of our naming whose nspawn is not running.
running=(); cleared=0
for i in $(lab_known); do
  if lab_nspawn_pid "$i" >/dev/null; then
    running+=("$i")
  else
    lab_clear "$i" || lab_die "h$i: could not clear stale state (see above)"
    cleared=$((cleared + 1))
  fi
done
declare -A is_running=()
for i in "${running[@]}"; do is_running[$i]=1; done

start=()
for i in "${want[@]}"; do [ -n "${is_running[$i]:-}" ] || start+=("$i"); done
for i in "${start[@]}"; do
  lab_prepare "$i"
  lab_boot "$i"
done
mapfile -t members < <(printf '%s\n' "${want[@]}" "${running[@]}" | sort -nu)
lab_write_files "${members[@]}"
t_prep=$(lab_since "$t0")

# The hosts asked for (h1..hN): hosts past N that were running already are left alone, as up.sh
# leaves them (the demo's `up.sh 4` on tests/run's 66 hosts took 9 s waiting on all of them).
if ! lab_wait "${want[@]}"; then
  lab_die "lab not ready (hosts stay up for inspection: tests/lab/exec.sh hN journalctl -b; tests/lab/down.sh to remove)"
fi
lab_report_degraded
lab_log "${#members[@]} hosts up (${#start[@]} started, ${#running[@]} already running, $cleared stale cleared): cache ${t_cache}; then prep $t_prep, all sshd +${LAB_T_SSH:-?}, systemd settled +${LAB_T_SETTLED:-skipped}: ready in $(lab_since "$t0")"
lab_log "ssh -F $LAB/ssh_config 10.213.N.2   inventory: $LAB/inventory.toml"
