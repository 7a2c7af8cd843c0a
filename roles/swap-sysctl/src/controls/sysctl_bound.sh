# shellcheck shell=sh
# sysctl.KEY: a kernel parameter within a bound.
# $2 the key, $3 the test (le or ge), $4 the bound, $5 the test as shown (<= or >=)
# `n/a` in a container for a key outside net.*: the machine's kernel, not the host's own.
case $2 in
net.*) ;;
*)
	if systemd-detect-virt -cq 2>/dev/null; then
		echo "n/a: in a container ($(systemd-detect-virt -c)), $2 is the machine's kernel's"
		exit 0
	fi
	;;
esac
v=$(sysctl -n "$2" 2>&1)
echo "$2 = $v"
case "$v" in
'' | *[!0-9]*) echo 'FAIL: not a number' ;;
*)
	if { [ "$3" = le ] && [ "$v" -le "$4" ]; } || { [ "$3" = ge ] && [ "$v" -ge "$4" ]; }; then
		echo ok
	else
		echo "FAIL: want $5 $4"
	fi
	;;
esac
