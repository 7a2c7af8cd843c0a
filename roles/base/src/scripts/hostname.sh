# shellcheck shell=sh
# The live hostname. $1 the name. Without the hostname tool (a minimal root), the kernel's own
# file takes it.
if command -v hostname >/dev/null; then hostname "$1"; else echo "$1" >/proc/sys/kernel/hostname; fi
