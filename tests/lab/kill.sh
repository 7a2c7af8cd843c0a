#!/bin/bash
# kill.sh hN [hM ...] — pull the plug on lab hosts: SIGKILL each host's PID 1 (its systemd),
# which ends every process in it at once, as a power cut would. Nothing on the host gets to
# clean up; its disk stays as it was at that instant. tests/lab/reboot.sh boots it again on
# that disk (same address and host key); reset.sh gives it a fresh one.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

case ${1:-} in -h|--help|"") echo "usage: ${0##*/} hN [hM ...]"; [ -n "${1:-}" ]; exit ;; esac
lab_require_root
hosts=()
for a in "$@"; do hosts+=("$(lab_index "$a")"); done
mapfile -t hosts < <(printf '%s\n' "${hosts[@]}" | sort -nu)
lab_lock_lab -s
for i in "${hosts[@]}"; do lab_lock_host "$i"; done
for i in "${hosts[@]}"; do
  lab_nspawn_pid "$i" >/dev/null || lab_die "h$i is not running"
done
lab_stop kill "${hosts[@]}"
lab_log "$(printf 'h%s ' "${hosts[@]}")killed (power cut); tests/lab/reboot.sh boots them on the same disk"
