# shellcheck shell=sh
# Disarms the rollback of snapshot $1 (systemd unit $2) and removes the snapshot; prints
# "@@$3 disarmed", or "@@$3 too-late" when the restore claimed it first (after waiting up to
# $4 seconds for it to finish). See rollback::disarm_script.
{
rampart_d=$1 rampart_unit=$2 rampart_m=$3 rampart_wait=$4
if [ ! -d "$rampart_d" ]; then echo "@@$rampart_m disarmed"; exit 0; fi
if mkdir "$rampart_d/claimed" 2>/dev/null; then
systemctl stop "$rampart_unit.timer" >/dev/null 2>&1; systemctl reset-failed "$rampart_unit.service" "$rampart_unit.timer" >/dev/null 2>&1
if [ -e "$rampart_d/sleeper.pid" ]; then kill "$(cat "$rampart_d/sleeper.pid")" 2>/dev/null || :; fi
rm -rf "$rampart_d"
echo "@@$rampart_m disarmed"
exit 0
fi
rampart_i=0
while [ ! -e "$rampart_d/rolled-back" ] && [ $rampart_i -lt "$rampart_wait" ]; do sleep 1; rampart_i=$((rampart_i + 1)); done
echo "@@$rampart_m too-late"
} </dev/null
