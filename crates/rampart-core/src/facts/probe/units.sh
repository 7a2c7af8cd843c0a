# shellcheck shell=sh
# systemd's view of the units (facts::probe). $1: the section's marker line; $2: more
# properties to show, comma-separated (may be empty; timestamps among them print as @SECONDS,
# or as systemd formats them where it has no --timestamp, before 247); then the units.
printf '%s\n' "$1"
rampart_p=$2
shift 2
if [ -z "$rampart_p" ]; then
  systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath,NeedDaemonReload -- "$@" 2>/dev/null || true
else
  rampart_p=Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath,NeedDaemonReload,$rampart_p
  systemctl show --timestamp=unix --property="$rampart_p" -- "$@" 2>/dev/null ||
    systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
fi
