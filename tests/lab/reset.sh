#!/bin/bash
# reset.sh hN [hM ...] — put lab hosts back to a fresh state: the container is killed (its disk
# is thrown away, so no orderly shutdown), its upper dir, netns and veth are recreated, and it
# boots again with the SAME address and host key, so known_hosts and the inventories stay valid.
# Returns once sshd answers and systemd has settled (as up.sh). Different hosts may be reset by
# concurrent callers (e.g. parallel tests); one host is reset by one caller at a time.
# Env: LAB_DOCKER=0|1 / LAB_REPO=0|1 / LAB_OS=bookworm|trixie|ubuntu override what the host was
#      started with (and are kept for its later resets).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

case ${1:-} in -h|--help|"") echo "usage: ${0##*/} hN [hM ...]"; [ -n "${1:-}" ]; exit ;; esac
lab_require_root
t0=$(lab_now)
hosts=()
for a in "$@"; do hosts+=("$(lab_index "$a")"); done
mapfile -t hosts < <(printf '%s\n' "${hosts[@]}" | sort -nu)
lab_lock_lab -s
for i in "${hosts[@]}"; do lab_lock_host "$i"; done
declare -A member=()
for i in $(lab_members); do member[$i]=1; done
for i in "${hosts[@]}"; do
  [ -n "${member[$i]:-}" ] || lab_die "h$i is not in the lab ($LAB/hosts.txt): tests/lab/up.sh N first"
  [ -s "$(lab_dir "$i")/hostkey/ssh_host_ed25519_key.pub" ] || lab_die "h$i has no recorded host key: tests/lab/up.sh N first"
done
lab_check_subnets "${hosts[@]}"
for i in "${hosts[@]}"; do
  eval "$(lab_host_options "$i")"
  # shellcheck disable=SC2154  # os and repo come from lab_host_options
  "$HERE/build-rootfs.sh" "$(lab_suite "$os")" >/dev/null
  if [ "$repo" = 1 ] && [ ! -s "$(lab_repo_dir "$(lab_suite "$os")")/Packages" ]; then "$HERE/repo.sh" "$(lab_suite "$os")"; fi
done

lab_stop kill "${hosts[@]}"
for i in "${hosts[@]}"; do lab_clear "$i" || lab_die "h$i: could not clear its state (see above)"; done
t_stop=$(lab_since "$t0")
for i in "${hosts[@]}"; do
  lab_prepare "$i"
  lab_boot "$i"
done
lab_wait "${hosts[@]}" || lab_die "reset hosts not ready"
for i in "${hosts[@]}"; do : >"$(lab_dir "$i")/claimed"; done
lab_report_degraded
lab_log "$(printf 'h%s ' "${hosts[@]}")reset: stop=$t_stop sshd=${LAB_T_SSH:-?} settled=${LAB_T_SETTLED:-skipped} total=$(lab_since "$t0")"
