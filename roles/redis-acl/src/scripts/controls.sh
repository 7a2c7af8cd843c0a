# shellcheck shell=sh
# The role's four live controls in one client session, for the audit and verify: PING before
# AUTH (Redis must refuse it), the isolation then the monitor DRYRUN probes, then ACL USERS.
# Prints each control's answer on lines tagged `ping:`, `isolation:`, `monitor:` and `users:`
# (`ok`, or what went the wrong way; the user names sorted); each control reads its own lines
# of this one run (one redis-cli and one awk instead of four sessions).
# $1 SSH_CONNECTION (unused) $2 the auth file $3 the maintenance user $4 host $5 port
# $6 `+`/`-` per probe $7 the probes' labels joined by `|` $8 how many of the probes are the
# isolation ones (the rest are the monitor's) $9... the probes
file=$2 user=$3 host=$4 port=$5 want=$6 labels=$7 niso=$8
shift 8
# The password with the shell's own `read` into the pipe (never an argv or the environment);
# without it only PING is asked.
if IFS= read -r pw <"$file"; then auth=1; else auth=; fi
{
	printf 'PING\n'
	if [ -n "$auth" ]; then
		printf 'AUTH %s %s\n' "$user" "$pw"
		printf '%s\n' "$@" 'ACL USERS'
	fi
} | redis-cli -h "$host" -p "$port" 2>&1 | awk -v want="$want" -v labels="$labels" -v niso="$niso" -v user="$user" -v auth="$auth" -v file="$file" '
BEGIN { n = split(labels, lab, "|") }
NF == 0 { next }
{ r++ }
r == 1 { print "ping: " $0; next }
r == 2 { if ($0 != "OK") nope = "cannot authenticate as " user ": " $0; next }
nope != "" { next }
r <= n + 2 { i = r - 2; ok = ($0 == "OK"); w = substr(want, i, 1); t = i <= niso ? "isolation" : "monitor"
  if (w == "+" && !ok) { print t ": denied but must be allowed: " lab[i] " (" $0 ")"; bad[t] = 1 }
  if (w == "-" && ok) { print t ": allowed but must be denied: " lab[i]; bad[t] = 1 }
  next }
{ u++; name[u] = $0 }
END {
  if (r < 1) print "ping: no reply"
  if (auth == "") nope = "cannot read " file
  else if (r < 2 && nope == "") nope = "no reply to AUTH"
  if (nope != "") { print "isolation: " nope; print "monitor: " nope; print "users: " nope; exit }
  got = r - 2
  gi = got < niso ? got : niso
  gm = got - niso; if (gm < 0) gm = 0; if (gm > n - niso) gm = n - niso
  if (gi < niso) print "isolation: got " gi " replies for " niso " probes"
  else if (!bad["isolation"]) print "isolation: ok"
  if (gm < n - niso) print "monitor: got " gm " replies for " (n - niso) " probes"
  else if (!bad["monitor"]) print "monitor: ok"
  if (u == 0) { print "users: no reply to ACL USERS"; exit }
  for (a = 2; a <= u; a++) { v = name[a]; for (b = a - 1; b >= 1 && (name[b] "") > (v ""); b--) name[b + 1] = name[b]; name[b + 1] = v }
  s = name[1]; for (a = 2; a <= u; a++) s = s " " name[a]
  print "users: " s }'
