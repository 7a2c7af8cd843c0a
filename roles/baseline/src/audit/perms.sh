# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_perms PATH MODE MAX_MODE OWNER GROUP: an existing PATH (not a link) has exactly
# MODE (octal), no bit outside MAX_MODE (octal), that OWNER and GROUP; an empty argument is
# not checked. Otherwise a FAIL line (and f=1) with what `stat` says.
baseline_perms() {
  [ -e "$1" ] && [ ! -L "$1" ] || return 0
  p=$1 mode=$2 max=$3 owner=$4 group=$5
  # shellcheck disable=SC2046 # split on purpose: mode, owner, group
  set -- $(stat -c '%a %U %G' "$p")
  if ! { { [ -z "$mode" ] || [ "$1" = "$mode" ]; } &&
    { [ -z "$max" ] || [ $(( 0$1 & ~0$max )) -eq 0 ]; } &&
    { [ -z "$owner" ] || [ "$2" = "$owner" ]; } &&
    { [ -z "$group" ] || [ "$3" = "$group" ]; }; }; then
    echo "FAIL: $p is $1 $2:$3"; f=1
  fi
}
