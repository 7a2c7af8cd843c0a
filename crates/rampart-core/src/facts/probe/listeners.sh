# shellcheck shell=sh
# The listening TCP sockets (facts::probe). $1: the section's marker line.
# With ss: `@ss`, then `ss -Htn state listening` (a netlink dump of the kernel's listening
# sockets only, ~3 ms of a host's CPU). Without: the local address of each socket in state 0A
# (LISTEN) of /proc/net/tcp and /proc/net/tcp6, hex as the kernel writes it (`0100007F:0CEA`);
# reading those walks the kernel's whole table of connections (~6 ms each on a machine with
# much memory, more with many connections), so it is only the fallback.
printf '%s\n' "$1"
if command -v ss >/dev/null 2>&1; then
  echo @ss
  ss -Htn state listening 2>/dev/null
else
  awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
fi
true
