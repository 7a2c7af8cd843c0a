# shellcheck shell=sh
# ACL DRYRUN probes in one session, judged by awk: a `+` probe must answer OK, a `-` one must
# not. Prints `ok`, or each probe that went the wrong way.
# $1 SSH_CONNECTION (unused) $2 the auth file $3 the maintenance user $4 host $5 port
# $6 `+`/`-` per probe $7 the probes' labels joined by `|` $8... the probes
redis_pw "$2"
user=$3 host=$4 port=$5 want=$6 labels=$7
shift 7
redis_session "$user" "$host" "$port" "$@" | awk -v want="$want" -v labels="$labels" -v user="$user" '
BEGIN { n = split(labels, lab, "|") }
NF == 0 { next }
{ r++ }
r == 1 { if ($0 != "OK") { print "cannot authenticate as " user ": " $0; bad = 1; exit } next }
{ i = r - 1; ok = ($0 == "OK"); w = substr(want, i, 1)
  if (w == "+" && !ok) { print "denied but must be allowed: " lab[i] " (" $0 ")"; bad = 1 }
  if (w == "-" && ok) { print "allowed but must be denied: " lab[i]; bad = 1 } }
END { if (!bad) { if (r - 1 == n) print "ok"; else print "got " (r > 1 ? r - 1 : 0) " replies for " n " probes" } }'
