# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# Units, as systemctl says. A FAIL line (and f=1) when one does not hold.
# baseline_unit_is UNIT STATE yes|no: `systemctl is-enabled UNIT` says STATE (`masked`,
#   `enabled`), or (no) says anything else.
# baseline_active UNIT yes|no: UNIT is active, or (no) is not.
baseline_unit_is() {
  s=$(systemctl is-enabled "$1" 2>/dev/null)
  if [ "$3" = yes ]; then
    [ "$s" = "$2" ] || { echo "FAIL: $1 is not $2"; f=1; }
  else
    [ "$s" != "$2" ] || { echo "FAIL: $1 is $2"; f=1; }
  fi
}
baseline_active() {
  if [ "$2" = yes ]; then
    systemctl is-active --quiet "$1" || { echo "FAIL: $1 is not running"; f=1; }
  else
    ! systemctl is-active --quiet "$1" || { echo "FAIL: $1 is running"; f=1; }
  fi
}
