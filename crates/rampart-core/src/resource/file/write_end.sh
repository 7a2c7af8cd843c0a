# shellcheck shell=sh
# The atomic write, second half (resource::File): mode and owner on the temporary file, the
# validation, the rename. Positional parameters as write_begin.sh left them ($1 the sha256).
# shellcheck disable=SC2154 # t, b, h and rampart_path are write_begin.sh's
rampart_as chmod "$2" "$t"
if [ -n "$3" ]; then chown -h "$3" "$t"; fi
case $4 in
temp)
  if ! out=$(eval "$5" 2>&1); then printf 'rampart: validation of %s failed (%s): %s\n' "$rampart_path" "$6" "$out" >&2; exit 1; fi
  mv -fT "$t" "$b"
  ;;
inplace)
  o=''; if [ -e "$b" ]; then o=$(rampart_as mktemp "$h.rampart-old.XXXXXX"); rampart_as cp -p "$b" "$o"; fi
  trap 'rm -f "$t" ${o:+"$o"}' EXIT
  mv -fT "$t" "$b"
  if ! out=$(eval "$5" 2>&1); then
    if [ -n "$o" ]; then mv -fT "$o" "$b"; else rm -f "$b"; fi
    printf 'rampart: validation of %s failed (%s), previous file restored: %s\n' "$rampart_path" "$6" "$out" >&2
    exit 1
  fi
  ;;
*) mv -fT "$t" "$b" ;;
esac
trap - EXIT
