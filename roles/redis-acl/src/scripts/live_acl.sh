# shellcheck shell=sh
# The live ACL is the file's, in one session and one awk: the isolation DRYRUN probes, then
# `ACL USERS` against the configured names as a set. Prints `ok` or what differs.
# $1 the auth file $2 the maintenance user $3 host $4 port $5 `+`/`-` per probe
# $6 the probes' labels joined by `|` $7 the configured user names, space-separated
# $8... the probes
redis_pw "$1"
user=$2 host=$3 port=$4 want=$5 labels=$6 users=$7
shift 7
redis_session "$user" "$host" "$port" "$@" 'ACL USERS' | awk -v want="$want" -v labels="$labels" -v user="$user" -v users="$users" '
BEGIN { n = split(labels, lab, "|"); m = split(users, name, " "); for (j = 1; j <= m; j++) known[name[j]] = 1 }
NF == 0 { next }
{ r++ }
r == 1 { if ($0 != "OK") { print "cannot authenticate as " user ": " $0; bad = 1; exit } next }
r <= n + 1 { i = r - 1; ok = ($0 == "OK"); w = substr(want, i, 1)
  if (w == "+" && !ok) { print "denied but must be allowed: " lab[i] " (" $0 ")"; bad = 1 }
  if (w == "-" && ok) { print "allowed but must be denied: " lab[i]; bad = 1 }
  next }
{ if ($0 in known) seen[$0] = 1; else { print "a user the file does not have: " $0; bad = 1 } }
END { if (bad) exit
  if (r - 1 < n) { print "got " (r > 1 ? r - 1 : 0) " replies for " n " probes"; exit }
  for (j = 1; j <= m; j++) if (!(name[j] in seen)) { print "a user missing live: " name[j]; bad = 1 }
  if (!bad) print "ok" }'
