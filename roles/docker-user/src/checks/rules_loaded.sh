# shellcheck shell=sh
# docker-user.rules-loaded: the live chain is exactly the rules file's. After $1 (the
# connection), pairs: the tool (iptables, ip6tables) and its rules file. The first pair that
# differs (or whose file is missing) fails the check with the live IPv4 chain as evidence.
shift
while [ $# -ge 2 ]; do
	if ! { [ -f "$2" ] && [ "$(grep '^-A DOCKER-USER ' "$2")" = "$("$1" -w -S DOCKER-USER 2>/dev/null | grep '^-A DOCKER-USER ')" ]; }; then
		echo 'FAIL: live chain:'
		iptables -w -S DOCKER-USER 2>&1
		exit
	fi
	shift 2
done
echo ok
