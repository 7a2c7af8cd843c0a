# shellcheck shell=sh
# sysctl.KEY: a kernel parameter within a bound.
# $2 the key, $3 the test (le or ge), $4 the bound, $5 the test as shown (<= or >=)
# `n/a` for a kernel-wide key in a container (machine_kernel.sh, sent before this).
if c=$(machine_kernel "$2"); then
	echo "n/a: in a container ($c), $2 is the machine's kernel's"
	exit 0
fi
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
