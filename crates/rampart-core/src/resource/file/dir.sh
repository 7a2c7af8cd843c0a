# shellcheck shell=sh
# A directory (resource::Directory). After shell::SAFE_PATH_FNS. $1-$6 as in remove.sh; then
# $1 "create" (it is absent) or "attrs", $2 "OWNER:GROUP" to set or "", $3 the mode or "".
# Created by whoever acts in the parent, owner set with -h, mode by the actor; a link swapped
# in since the probe is refused.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
if [ "$1" = create ]; then
  if [ -e "$b" ] || [ -L "$b" ]; then rampart_stale "$rampart_path"; fi
  rampart_as mkdir "$b"
else
  if [ -L "$b" ] || [ ! -d "$b" ]; then rampart_stale "$rampart_path"; fi
fi
if [ -n "$2" ]; then chown -h "$2" "$b"; fi
if [ -n "$3" ]; then rampart_as chmod "$3" "$b"; fi
