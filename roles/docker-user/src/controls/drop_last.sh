# shellcheck shell=sh
# docker-user.drop-last: DOCKER-USER ends by dropping traffic from the external interface (the
# default route's) to containers. `n/a` without docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
i=$(ip -4 route show default 2>/dev/null | awk '{for (k = 1; k < NF; k++) if ($k == "dev") { print $(k + 1); exit }}')
last=$(iptables -w -S DOCKER-USER 2>&1 | tail -n 1)
echo "last rule: $last"
if [ -n "$i" ] && [ "$last" = "-A DOCKER-USER -i $i -j DROP" ]; then
	echo ok
else
	echo "FAIL: expected -A DOCKER-USER -i ${i:-<no default route>} -j DROP last"
fi
