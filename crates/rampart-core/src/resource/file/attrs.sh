# shellcheck shell=sh
# A file's owner and mode (resource::File, content unchanged). After shell::SAFE_PATH_FNS.
# $1-$6 as in remove.sh; $1 "OWNER:GROUP" to set or "", $2 the mode (octal) to set or "".
# Owner first (chown -h never follows a link), then the mode as whoever acts in the directory.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
if [ -L "$b" ] || [ ! -f "$b" ]; then rampart_stale "$rampart_path"; fi
if [ -n "$1" ]; then chown -h "$1" "$b"; fi
if [ -n "$2" ]; then rampart_as chmod "$2" "$b"; fi
