# shellcheck shell=sh
# Sets a sysctl live (resource::Sysctl): writes /proc directly rather than `sysctl -w` (one
# fewer process, same effect). $1: the /proc/sys path, $2: the value.
printf '%s\n' "$2" > "$1"
