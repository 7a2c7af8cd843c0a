# shellcheck shell=sh
# Big files hashed on the host (facts::probe), by one more process only when there are any.
# $1: the section's marker line; then the paths to read.
printf '%s\n' "$1"
shift
# shellcheck disable=SC2154 # rampart_big is stats.sh's
if [ -n "$rampart_big" ]; then find -P "$@" -maxdepth 0 -type f -size +1024k -size -65537k -exec sha256sum {} + 2>/dev/null; fi
