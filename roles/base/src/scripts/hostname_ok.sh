# shellcheck shell=sh
# Whether the live hostname is $1 (read-only).
[ "$(cat /proc/sys/kernel/hostname)" = "$1" ]
