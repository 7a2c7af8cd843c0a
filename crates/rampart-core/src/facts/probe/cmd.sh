# shellcheck shell=sh
# One read-only check (facts::probe): its exit status and output are the fact. $1: the
# section's marker line, $2: the check's shell code, run with the probe's own $1
# (SSH_CONNECTION) as its $1. The status is the check's own; the output is cut to
# MAX_CHECK_OUTPUT when parsed, not with a `head` per check.
printf '%s\n' "$1"
rampart_cmd=$2
# shellcheck disable=SC2154 # rampart_conn is set first in the probe
set -- "$rampart_conn"
rampart_out=$( { eval "$rampart_cmd"
} </dev/null 2>&1 ); rampart_rc=$?
printf '%s\n' "$rampart_out"; echo "@rc $rampart_rc"
