# shellcheck shell=sh
# custom.paths: after $1 (the connection), pairs: `stat` or `absent`, and a path. `stat`
# prints "PATH MODE OWNER:GROUP" (or "PATH absent"); `absent` prints "PATH present" or
# "PATH absent" (a dangling link is present).
shift
while [ $# -ge 2 ]; do
	case $1 in
	stat) stat -c '%n %a %U:%G' -- "$2" 2>/dev/null || printf '%s absent\n' "$2" ;;
	*)
		if [ -e "$2" ] || [ -L "$2" ]; then
			printf '%s present\n' "$2"
		else
			printf '%s absent\n' "$2"
		fi
		;;
	esac
	shift 2
done
