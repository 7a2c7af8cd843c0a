# shellcheck shell=sh
# Mode and owner of an existing file or directory whose content is not managed (resource::Perms).
# After shell::SAFE_PATH_FNS. $1-$6 as in file/remove.sh; then $7 `-f` (a file) or `-d` (a
# directory), $8 "OWNER:GROUP" to set or "", $9 the mode (octal) to set or "".
# Owner first (chown -h never follows a link), then the mode as whoever acts in the directory.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
case $1 in
  -d) [ -d "$b" ] ;;
  *) [ -f "$b" ] ;;
esac || rampart_stale "$rampart_path"
if [ -L "$b" ]; then rampart_stale "$rampart_path"; fi
if [ -n "$2" ]; then chown -h "$2" "$b"; fi
if [ -n "$3" ]; then rampart_as chmod "$3" "$b"; fi
