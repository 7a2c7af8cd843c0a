# shellcheck shell=sh
# The user names the running Redis has, sorted, on one line.
# $1 SSH_CONNECTION (unused) $2 the auth file $3 the maintenance user $4 host $5 port
redis_pw "$2"
redis_session "$3" "$4" "$5" 'ACL USERS' |
	awk -v u="$3" 'NR == 1 { if ($0 != "OK") { print "cannot authenticate as " u ": " $0; exit } next } NF { print }' |
	sort | tr '\n' ' ' | sed 's/ $//'
