# shellcheck shell=sh
# The `reload systemd` handler: picks up the drop-in; restarts the unit ($1) when $2 is `yes`
# and it runs, else says what to do.
systemctl daemon-reload
if [ "$2" = yes ]; then
	if systemctl is-active --quiet "$1"; then
		systemctl restart "$1"
	else
		echo "$1 is not running: its sandbox applies when it starts"
	fi
else
	echo "restart $1 yourself: the running process keeps its old sandbox"
fi
