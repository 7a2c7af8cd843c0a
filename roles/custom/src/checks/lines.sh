# shellcheck shell=sh
# custom.lines: after $1 (the connection), triples: the match, the line, the file. The Edit's
# own rule: exactly one line starts with the match (or equals the line), and it is the line.
# ENVIRON keeps awk from reading escapes. The status is the last awk's.
shift
rc=0
while [ $# -ge 3 ]; do
	M=$1 L=$2 awk 'BEGIN { m = ENVIRON["M"]; l = ENVIRON["L"] } index($0, m) == 1 || $0 == l { n++; if ($0 == l) ok = 1 } END { if (n == 1 && ok) print FILENAME ": present"; else print "WRONG in " FILENAME ": " n + 0 " line(s) match, the managed one is " (ok ? "there" : "missing") }' "$3" 2>&1
	rc=$?
	shift 3
done
exit "$rc"
