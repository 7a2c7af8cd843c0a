# shellcheck shell=sh
# swap.active (the role's own): the swap file ($2) is in use; in a container, where the kernel
# refuses swapon, the file and its fstab line are what can be checked.
if systemd-detect-virt -cq; then
	echo "in a container ($(systemd-detect-virt -c)): the kernel refuses swapon; the file and fstab are checked"
	echo ok
elif swapon --show=NAME --noheadings | grep -qxF "$2"; then
	echo ok
else
	echo 'FAIL: not active'
	swapon --show
fi
