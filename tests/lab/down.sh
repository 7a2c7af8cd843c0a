#!/bin/bash
# down.sh [hN ...] — stop lab hosts (all of them without arguments) and remove every trace of
# them: orderly shutdown by recorded, verified PID (SIGTERM to nspawn, bounded wait, then SIGKILL
# nspawn and the container leader), overlay unmounted, netns and veth deleted, state dir removed
# (KEEP=1 keeps it, e.g. to read a host's journal in hosts/hN/upper/var/log/journal).
# Idempotent; also clears what a killed run left. Prints one summary line of what remains
# (all 0, else exit 1).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

case ${1:-} in -h|--help) echo "usage: ${0##*/} [hN ...]   (env KEEP=1 keeps the state dirs)"; exit 0 ;; esac
lab_require_root
t0=$(lab_now)
mkdir -p "$LAB/locks"
if (($#)); then
  lab_lock_lab -s
  hosts=()
  for a in "$@"; do hosts+=("$(lab_index "$a")"); done
  mapfile -t hosts < <(printf '%s\n' "${hosts[@]}" | sort -nu)
  for i in "${hosts[@]}"; do lab_lock_host "$i"; done
else
  lab_lock_lab -x
  mapfile -t hosts < <(lab_known)
fi

# every container leader we can attribute to these hosts, to prove afterwards that none is left
leaders=()
for i in "${hosts[@]}"; do
  if l=$(lab_leader "$i"); then leaders+=("$l"); fi
  mapfile -t -O "${#leaders[@]}" leaders < <(lab_stale_leaders "$i")
done

lab_stop graceful "${hosts[@]}"
t_stopped=$(lab_since "$t0")
# Each host's kernel state and files are its own: they are cleared side by side (removing a
# host's files that Docker filled takes seconds).
clear_one() {
  local rc=0
  lab_clear "$1" || rc=1
  [ "${KEEP:-0}" = 1 ] || rm -rf "$(lab_dir "$1")"
  return "$rc"
}
failed=0 pids=()
for i in "${hosts[@]}"; do
  clear_one "$i" &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done

# the client files describe the hosts that are left
if (($#)); then
  declare -A gone=()
  for i in "${hosts[@]}"; do gone[$i]=1; done
  keep=()
  for i in $(lab_members); do [ -n "${gone[$i]:-}" ] || keep+=("$i"); done
  [ -d "$LAB" ] && lab_write_files "${keep[@]}"
elif [ -d "$LAB" ]; then
  lab_write_files
fi

# What remains, of this lab's naming (or of the named hosts).
if (($#)); then pat="($(printf 'h%s|' "${hosts[@]}" | sed 's/|$//'))"; else pat='h[0-9]+'; fi
n_nspawn=0
for p in $(pgrep -x systemd-nspawn); do
  tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -Eq -- " -M rampart-$pat " && n_nspawn=$((n_nspawn + 1))
done
n_cont=0
for l in "${leaders[@]}"; do lab_is_leader "$l" && n_cont=$((n_cont + 1)); done
n_mnt=$(findmnt -rn -o TARGET | grep -Ec "^$LAB_HOSTS/$pat/" || true)
n_ns=$(ip netns list | grep -Ec "^rampart-$pat( |$)" || true)
n_veth=$(ip -o link show | grep -Ec "^[0-9]+: rp-${pat}[@:]" || true)
left=$((n_nspawn + n_cont + n_mnt + n_ns + n_veth + failed))
lab_log "${#hosts[@]} hosts down ($LAB_STOPPED were running, $LAB_KILLED needed SIGKILL) in $(lab_since "$t0") (stopped at $t_stopped); remaining: nspawn=$n_nspawn containers=$n_cont mounts=$n_mnt netns=$n_ns veths=$n_veth errors=$failed"
((left == 0))
