# shellcheck shell=sh
# Whether ufw's chains are loaded (facts::probe), asked alone when the filter table's dump
# (which answers it) is not asked for. $1: the section's marker line.
printf '%s\n' "$1"
if iptables -w -S ufw-user-input >/dev/null 2>&1; then echo yes; else echo no; fi
