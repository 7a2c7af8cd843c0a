# shellcheck shell=sh
# ufw.only-allowed: nothing is allowed beyond the configuration, read from ufw's rules files.
# $1 SSH_CONNECTION (its last word: the port rampart is connected on, which counts as SSH)
# $2 the expected rule lines, joined by a literal \n (awk's -v expands it, as printf %b would)
# $3 the configured SSH ports, space-separated (may be empty)
# $4 the sources SSH is allowed from, space-separated
# $5 the rules files to read, space-separated (the IPv6 one too when ufw manages IPv6)
# Prints each rule of the files once, sorted, as `allowed: R` or `unexpected: R`. One awk
# (after sshd_ports): a grep per rule and two sorts cost a host ~10 processes.
[ -f /etc/ufw/user.rules ] || { echo 'unexpected: /etc/ufw/user.rules is missing'; exit 0; }
allowed=$2
ports="$(sshd_ports) $3 ${1:+${1##* }}"
sources=$4
files=$5
set --
# shellcheck disable=SC2086 # a word list
for f in $files; do
	if [ -r "$f" ]; then set -- "$@" "$f"; fi
done
[ $# -gt 0 ] || exit 0
awk -v allowed="$allowed" -v ports="$ports" -v sources="$sources" '
BEGIN {
	n = split(allowed, a, "\n")
	for (i = 1; i <= n; i++) ok[a[i]] = 1
	np = split(ports, p, /[ \t\n]+/)
	ns = split(sources, s, /[ \t\n]+/)
	for (i = 1; i <= np; i++) if (p[i] != "") for (j = 1; j <= ns; j++) if (s[j] != "") ok["allow " p[i] "/tcp from " s[j] " in"] = 1
}
/^### tuple ### / {
	r = $4 " " $6 "/" $5 " from " $9 " " $10
	if (!(r in seen)) { seen[r] = 1; rules[++m] = r }
}
END {
	for (i = 2; i <= m; i++) { x = rules[i]; for (j = i - 1; j >= 1 && rules[j] > x; j--) rules[j + 1] = rules[j]; rules[j + 1] = x }
	for (i = 1; i <= m; i++) print ((rules[i] in ok) ? "allowed: " : "unexpected: ") rules[i]
}' "$@"
