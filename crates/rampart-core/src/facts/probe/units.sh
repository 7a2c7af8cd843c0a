# shellcheck shell=sh
# systemd's view of the units (facts::probe). $1: the section's marker line; then the units.
printf '%s\n' "$1"
shift
systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath,NeedDaemonReload -- "$@" 2>/dev/null || true
