# shellcheck shell=sh
# A symbolic link (resource::Symlink). After shell::SAFE_PATH_FNS. $1-$6 as in remove.sh;
# $1 the link's target.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6
shift 6
ln -sfT -- "$1" "$b"
: "$rampart_path"
