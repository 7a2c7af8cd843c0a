# shellcheck shell=sh
# ufw.ssh-allowed: every port sshd listens on (sshd_ports) has an allow rule in ufw's rules.
ports=$(sshd_ports)
[ -n "$ports" ] || { echo 'FAIL: sshd -T printed no port'; exit 0; }
for p in $ports; do
	if grep -Eq "^### tuple ### (allow|limit) (tcp|any) $p " /etc/ufw/user.rules 2>/dev/null; then
		echo "ssh port $p: allowed"
	else
		echo "FAIL: ssh port $p is not allowed"
	fi
done
