# shellcheck shell=sh
# Validation of a new ACL file ($1): start a throwaway redis-server on it with no TCP port, a
# private unix socket and no persistence; an ACL error makes it exit at once, a good file makes
# it listen (then it is stopped).
d=$(mktemp -d) || exit 1
: >"$d/log"
printf 'port 0\nunixsocket %s/s\nunixsocketperm 700\nsave ""\nappendonly no\ndir %s\naclfile %s\n' "$d" "$d" "$1" | redis-server - >"$d/log" 2>&1 &
p=$!
i=0
while [ $i -lt 100 ] && ! grep -qi 'ready to accept conn' "$d/log" && kill -0 $p 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if grep -qi 'ready to accept conn' "$d/log"; then
	kill $p
	wait $p
	rm -rf "$d"
	exit 0
fi
kill $p 2>/dev/null
wait $p
grep -o 'ACL errors.*' "$d/log" || tail -n 3 "$d/log"
rm -rf "$d"
exit 1
