# shellcheck shell=sh
# The safe-path functions (shell::SAFE_PATH_FNS): enter a directory without following a link
# a user other than root could have planted, and act there as the right user.
rampart_cd() {
  cd -P / || return 1
  rampart_rest=${1#/}
  while [ -n "$rampart_rest" ]; do
    rampart_c=${rampart_rest%%/*}
    case $rampart_rest in */*) rampart_rest=${rampart_rest#*/} ;; *) rampart_rest= ;; esac
    if [ -L "$rampart_c" ]; then
      if [ ! -O . ]; then printf 'rampart: refusing %s: %s is a symbolic link in a directory a user other than root owns
' "$1" "${PWD%/}/$rampart_c" >&2; return 75; fi
      cd -P "./$rampart_c" || return 1
    else
      rampart_want=${PWD%/}/$rampart_c
      if [ -n "${2:-}" ] && [ ! -e "$rampart_c" ]; then mkdir "./$rampart_c" || return 1; fi
      cd -P "./$rampart_c" || return 1
      if [ "$PWD" != "$rampart_want" ]; then printf 'rampart: refusing %s: %s turned into a link while rampart entered it
' "$1" "$rampart_want" >&2; return 75; fi
    fi
  done
}
rampart_who() {
  rampart_user='' rampart_group=''
  if [ -O . ]; then return 0; fi
  if [ "$1" = root ]; then printf 'rampart: refusing to write a file of root'"'"'s into %s: a user other than root owns that directory
' "$PWD" >&2; return 1; fi
  rampart_user=$1 rampart_group=$2
}
rampart_as() {
  if [ -n "$rampart_user" ]; then setpriv --reuid="$rampart_user" --regid="$rampart_group" --init-groups -- "$@"; else "$@"; fi
}
rampart_put() {
  # shellcheck disable=SC2016 # the inner sh expands $1
  if [ -n "$rampart_user" ]; then rampart_as sh -c 'exec base64 -d > "$1"' sh "$1"; else base64 -d > "$1"; fi
}
rampart_enter() {
  rampart_cd "$1" "$2" || return $?
  if [ -n "$3" ]; then rampart_who "$3" "$4" || return $?; fi
}
rampart_stale() {
  printf 'rampart: %s changed on the host since its facts were gathered; run again\n' "$1" >&2
  exit 75
}
