# shellcheck shell=sh
# unattended-upgrades.timers: after $1 (the connection), the apt timers; systemctl prints
# each one's state, one per line.
shift
systemctl is-active "$@"
