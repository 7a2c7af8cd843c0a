# shellcheck shell=sh
# redis-acl.no-clear-passwords: no user line of the ACL file ($2) has a clear-text password
# (`>pw`) or `nopass`; prints the offending users, else `ok`.
awk '{ for (i = 3; i <= NF; i++) if ($i == "nopass" || substr($i, 1, 1) == ">") { print $2; bad = 1 } } END { if (!bad) print "ok" }' "$2" 2>&1
