# shellcheck shell=sh
# base.packages: after $1 (the connection), the packages; prints "missing: NAME" for each one
# dpkg does not have installed ("ii"). One dpkg-query answers them all (one per package cost
# ~6 ms each); a name it does not print back as asked (an arch-qualified one) is asked alone.
shift
s=$(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' "$@" 2>/dev/null)
for p do
	case "
$s
" in
	*"
ii $p
"*) ;;
	*) dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || echo "missing: $p" ;;
	esac
done
true
