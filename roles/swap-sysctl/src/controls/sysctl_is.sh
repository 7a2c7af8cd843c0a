# shellcheck shell=sh
# sysctl.KEY (the role's own check): a kernel parameter it sets has its value.
# $2 the key, $3 the wanted value (whitespace squeezed to single spaces)
# machine_kernel (machine_kernel.sh, sent before this): a kernel-wide key in a container is the
# machine's, which the role persists and leaves alone.
if c=$(machine_kernel "$2"); then
	echo "$2: in a container ($c) the machine's kernel's, persisted only"
	echo ok
	exit 0
fi
if ! v=$(sysctl -n "$2" 2>/dev/null); then
	echo "$2: no such kernel parameter"
	echo "FAIL: want $3"
	exit 0
fi
v=$(printf '%s\n' "$v" | tr '\t' ' ' | tr -s ' ')
echo "$2 = $v"
if [ "$v" = "$3" ]; then
	echo ok
else
	echo "FAIL: want $3"
fi
