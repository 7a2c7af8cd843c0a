# shellcheck shell=sh
# swap.active: swap is on; `n/a` in a container, where the kernel refuses swap.
if systemd-detect-virt -cq 2>/dev/null; then
	echo "n/a: in a container ($(systemd-detect-virt -c)), the kernel refuses swap"
elif [ -n "$(swapon --show=NAME --noheadings 2>/dev/null)" ]; then
	swapon --show 2>&1
	echo ok
else
	echo 'FAIL: no swap is active'
fi
