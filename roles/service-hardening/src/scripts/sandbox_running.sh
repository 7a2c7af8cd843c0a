# shellcheck shell=sh
# service-hardening.sandbox-running: the unit's ($2) running process has no-new-privileges
# (shown when $3 is `yes`) and a read-only root (shown when $4 is `yes`), or it is stopped.
pid=$(systemctl show -p MainPID --value "$2")
if [ "${pid:-0}" = 0 ]; then
	echo 'not running'
else
	[ "$3" != yes ] || awk '/^NoNewPrivs:/ { print "NoNewPrivs=" $2 }' "/proc/$pid/status"
	[ "$4" != yes ] || awk '$5 == "/" { split($6, o, ","); print "root=" o[1] }' "/proc/$pid/mountinfo"
fi
