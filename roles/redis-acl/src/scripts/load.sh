# shellcheck shell=sh
# The `load acl` handler: ACL LOAD as the maintenance user; a restart when the running Redis
# does not know that user yet (the first run, a rotated admin secret).
# $1 the service $2 the ACL file $3 host $4 port $5 the auth file $6 the maintenance user
svc=$1 acl=$2 host=$3 port=$4 auth_file=$5 user=$6
if ! systemctl is-active --quiet "$svc"; then
	echo "$svc is not running: it reads $acl when it starts"
	exit 0
fi
# Right after a restart Redis may not listen yet: any reply (NOAUTH included) will do.
i=0
until out=$(redis-cli -h "$host" -p "$port" PING 2>&1) && case $out in *NOAUTH* | *PONG*) true ;; *) false ;; esac; do
	i=$((i + 1))
	if [ $i -ge 50 ]; then
		echo "redis at $host:$port does not answer: $out" >&2
		exit 1
	fi
	sleep 0.2
done
out=$(
	redis_pw "$auth_file"
	redis_session "$user" "$host" "$port" 'ACL LOAD' || true
)
auth=$(printf '%s\n' "$out" | sed -n 1p)
load=$(printf '%s\n' "$out" | sed -n 2p)
if [ "$auth" != OK ]; then
	echo "rampart: $user is not accepted by the running Redis yet (first run or rotated admin secret); restarting $svc to load $acl"
	systemctl restart "$svc"
	exit 0
fi
if [ "$load" != OK ]; then
	echo "rampart: ACL LOAD failed: $load" >&2
	exit 1
fi
echo "ACL reloaded from $acl"
