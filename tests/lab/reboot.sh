#!/bin/bash
# reboot.sh hN [hM ...] — reboot lab hosts KEEPING their disk: orderly shutdown (as down.sh),
# then boot again on the same upper dir, same address and host key, in a NEW network namespace.
# For boot-persistence tests: the netns outlives the container, so firewall rules would survive
# a plain container restart and prove nothing; here they must come back from the host's own
# units (ufw, a DOCKER-USER unit, ...), as on a real reboot. (`systemctl reboot` inside a host
# does not work: nspawn just exits, and the host is gone until up.sh or reset.sh.)
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
for i in "${hosts[@]}"; do
  [ -d "$(lab_dir "$i")/upper" ] || lab_die "h$i has no disk to reboot on: tests/lab/up.sh N first"
done
lab_check_subnets "${hosts[@]}"
lab_stop graceful "${hosts[@]}"
for i in "${hosts[@]}"; do lab_clear "$i" || lab_die "h$i: could not clear its state (see above)"; done
t_stop=$(lab_since "$t0")
for i in "${hosts[@]}"; do
  lab_prepare "$i" keep
  lab_boot "$i"
done
lab_wait "${hosts[@]}" || lab_die "rebooted hosts not ready"
for i in "${hosts[@]}"; do : >"$(lab_dir "$i")/claimed"; done
lab_report_degraded
lab_log "$(printf 'h%s ' "${hosts[@]}")rebooted: stop=$t_stop sshd=${LAB_T_SSH:-?} settled=${LAB_T_SETTLED:-skipped} total=$(lab_since "$t0")"
