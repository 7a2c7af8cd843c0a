# shellcheck shell=sh
# unattended-upgrades.reboot-required: no reboot is pending (`ok`), else which packages want one.
if [ -e /var/run/reboot-required ]; then
	p=$(sort -u /var/run/reboot-required.pkgs 2>/dev/null | paste -sd' ' -)
	echo "FAIL: reboot required by: ${p:-(packages not recorded)}"
else
	echo 'no reboot required'
	echo ok
fi
