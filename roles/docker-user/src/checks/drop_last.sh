# shellcheck shell=sh
# docker-user.drop-last(-v6), the role's check: the chain ends with the DROP from the external
# interface. $2: iptables or ip6tables; $3: the configured interface, empty for the default
# route's; $4: `6` to look at the IPv6 default route first (falling back to the IPv4 one).
tool=$2
i=$3
if [ -z "$i" ]; then
	i=$( { if [ "$4" = 6 ]; then ip -6 route show default; fi; ip -4 route show default; } 2>/dev/null | awk '{for (k = 1; k < NF; k++) if ($k == "dev") { print $(k + 1); exit }}')
fi
last=$("$tool" -w -S DOCKER-USER 2>&1 | tail -n 1)
echo "last rule: $last"
if [ -n "$i" ] && [ "$last" = "-A DOCKER-USER -i $i -j DROP" ]; then
	echo ok
else
	echo "FAIL: expected -A DOCKER-USER -i ${i:-<no default route>} -j DROP last"
fi
