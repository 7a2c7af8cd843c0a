# shellcheck shell=sh
# custom.services: after $1 (the connection), pairs: `enabled` or `active`, and a unit.
# Prints "UNIT enabled" / "UNIT disabled", or "UNIT started" / "UNIT stopped".
shift
while [ $# -ge 2 ]; do
	case $1 in
	enabled)
		case $(systemctl is-enabled "$2" 2>/dev/null) in
		enabled | enabled-runtime | alias) printf '%s enabled\n' "$2" ;;
		*) printf '%s disabled\n' "$2" ;;
		esac
		;;
	*)
		if systemctl is-active --quiet "$2"; then
			printf '%s started\n' "$2"
		else
			printf '%s stopped\n' "$2"
		fi
		;;
	esac
	shift 2
done
