# shellcheck shell=sh
# base.packages: after $1 (the connection), the packages; prints "missing: NAME" for each one
# dpkg does not have installed ("ii").
shift
for p do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || echo "missing: $p"
done
true
