# shellcheck shell=sh
# File absent (resource::File): removes it. After shell::SAFE_PATH_FNS. $1 $2 $3 $4: the
# parent directory, "create" or "", owner and group (rampart_enter); $5 the path, $6 its name.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
rm -f -- "$b"
: "$rampart_path"
