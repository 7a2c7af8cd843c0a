# shellcheck shell=sh
# base.hostname: the kernel's hostname ($2) and /etc/hostname's ($3), one line each.
cat "$2"
cat "$3"
