# shellcheck shell=sh
# docker.config-loaded: the running dockerd started after daemon.json ($2) last changed, so it
# runs with it. (`ps -o etimes` rounds down, so the start computed here is never earlier than
# the real one: no false failure.)
pid=$(systemctl show -p MainPID --value docker.service)
if [ "${pid:-0}" -gt 0 ] 2>/dev/null; then
	started=$(($(date +%s) - $(ps -o etimes= -p "$pid")))
	changed=$(stat -c %Y "$2")
	if [ "$changed" -le "$started" ]; then echo ok; else echo "FAIL: $2 changed after dockerd started: restart docker"; fi
else
	echo 'FAIL: dockerd is not running'
fi
