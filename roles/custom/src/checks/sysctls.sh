# shellcheck shell=sh
# custom.sysctls: after $1 (the connection), pairs: a key and its /proc/sys file. Prints
# "KEY = VALUE", the value's whitespace squeezed to single spaces.
shift
while [ $# -ge 2 ]; do
	printf '%s = %s\n' "$1" "$(tr -s '[:space:]' ' ' < "$2" | sed 's/ $//')"
	shift 2
done
