# shellcheck shell=sh
# A control whose waiver expired: the check fails and says so. $2 reason, $3 by, $4 expires
# ($1 is the probe's SSH_CONNECTION).
echo "waiver EXPIRED on $4: $2 (by $3)"; exit 1
