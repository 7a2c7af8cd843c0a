# shellcheck shell=sh
# Functions for one authenticated client session as the maintenance user; the scripts of
# this folder that talk to Redis start with them.
#
# redis_pw FILE: reads the password into $pw with the shell's own `read` (never an argv or the
# environment); prints `cannot read FILE` and ends the (sub)shell when it cannot.
redis_pw() {
	IFS= read -r pw <"$1" || {
		echo "cannot read $1"
		exit 0
	}
}

# redis_session USER HOST PORT [COMMAND...]: AUTH as USER with $pw, then each COMMAND, through
# one client process. The builtin printf writes the password into the pipe, so `ps` and
# /proc/PID/environ never show it.
redis_session() {
	rs_user=$1 rs_host=$2 rs_port=$3
	shift 3
	{
		printf 'AUTH %s %s\n' "$rs_user" "$pw"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} | redis-cli -h "$rs_host" -p "$rs_port" 2>&1
}
