# shellcheck shell=sh
# A waived control's check: it passes with the waiver as evidence. $2 reason, $3 by,
# $4 expires ($1 is the probe's SSH_CONNECTION).
echo "waived: $2 (by $3, expires $4)"
