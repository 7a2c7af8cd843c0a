# shellcheck shell=sh
# The listening TCP sockets (facts::probe): the local address of each socket in state 0A
# (LISTEN) of /proc/net/tcp and /proc/net/tcp6, hex as the kernel writes it (`0100007F:0CEA`).
# One awk, where `ss -Hltn` costs a host ~6 ms and a shell `read` loop a system call per byte
# (a busy server has thousands of sockets). $1: the section's marker line.
printf '%s\n' "$1"
awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
true
