# shellcheck shell=sh
# A swap file (resource::Swap). After shell::SAFE_PATH_FNS; $1-$6 as in file/remove.sh (the
# file is root's, in a directory entered without following a user's link, by its name there:
# fallocate, dd and chmod would follow a link planted at the path). Then $1 "create" (make it
# $2 bytes, $3 MiB), "attrs" (owner and mode only) or ""; $4 "on" to swapon it.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
case $1 in
create)
  rm -f "$b"
  fallocate -l "$2" "$b" 2>/dev/null || dd if=/dev/zero of="$b" bs=1M count="$3" status=none
  chmod 0600 "$b"
  mkswap "$b" >/dev/null
  ;;
attrs)
  if [ -L "$b" ] || [ ! -f "$b" ]; then rampart_stale "$rampart_path"; fi
  chown -h root:root "$b"; chmod 0600 "$b"
  ;;
esac
if [ "$4" = on ]; then swapon "$b"; fi
