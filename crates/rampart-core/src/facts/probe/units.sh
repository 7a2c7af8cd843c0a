# shellcheck shell=sh
# systemd's view of the units (facts::probe). $1: the section's marker line; $2: more
# properties to show, comma-separated (may be empty; timestamps among them print as @SECONDS,
# or as systemd formats them where it has no --timestamp, before 247); then the units.
printf '%s\n' "$1"
rampart_p=Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath,NeedDaemonReload
if [ -z "$2" ]; then
  shift 2
  systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
else
  rampart_p=$rampart_p,$2
  shift 2
  systemctl show --timestamp=unix --property="$rampart_p" -- "$@" 2>/dev/null ||
    systemctl show --property="$rampart_p" -- "$@" 2>/dev/null || true
fi
