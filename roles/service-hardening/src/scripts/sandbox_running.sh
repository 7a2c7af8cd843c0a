# shellcheck shell=sh
# service-hardening.sandbox-running: the unit's ($2) running processes have no-new-privileges
# (shown when $3 is `yes`) and a read-only root (shown when $4 is `yes`), or it is stopped.
# The processes are the unit's cgroup's, read with the shell's own `read` (cgroup v2, or the
# hybrid layout's unified or name=systemd tree); `systemctl show` (~8 ms of a host's CPU) only
# gives the main PID when none of those is there: the unit is stopped, or in another slice.
pids=
for f in /sys/fs/cgroup/system.slice/"$2"/cgroup.procs \
	/sys/fs/cgroup/unified/system.slice/"$2"/cgroup.procs \
	/sys/fs/cgroup/systemd/system.slice/"$2"/cgroup.procs; do
	[ -r "$f" ] || continue
	while read -r p; do pids="$pids /proc/$p"; done <"$f"
	[ -z "$pids" ] || break
done
if [ -z "$pids" ]; then
	pid=$(systemctl show -p MainPID --value "$2")
	[ "${pid:-0}" = 0 ] || pids=/proc/$pid
fi
if [ -z "$pids" ]; then
	echo 'not running'
else
	# One line per distinct answer: a unit's processes share their sandbox. A process that
	# ends while this reads is skipped (awk's complaint about its files, and its status).
	# shellcheck disable=SC2086 # the paths, split on purpose
	for p in $pids; do
		[ "$3" != yes ] || set -- "$@" "$p/status"
		[ "$4" != yes ] || set -- "$@" "$p/mountinfo"
	done
	shift 4
	[ $# -eq 0 ] || awk '
		FILENAME ~ /status$/ && /^NoNewPrivs:/ { l = "NoNewPrivs=" $2 }
		FILENAME ~ /mountinfo$/ && $5 == "/" { split($6, o, ","); l = "root=" o[1] }
		l != "" { if (!(l in seen)) print l; seen[l] = 1; l = "" }' "$@" 2>/dev/null || :
fi
