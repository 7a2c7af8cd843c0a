# shellcheck shell=sh
# ufw.only-allowed: nothing is allowed beyond the configuration, read from ufw's rules files.
# $1 SSH_CONNECTION (its last word: the port rampart is connected on, which counts as SSH)
# $2 the expected rule lines, joined by a literal \n (printf %b expands them)
# $3 the configured SSH ports, space-separated (may be empty)
# $4 the sources SSH is allowed from, space-separated
# $5 the rules files to read, space-separated (the IPv6 one too when ufw manages IPv6)
[ -f /etc/ufw/user.rules ] || { echo 'unexpected: /etc/ufw/user.rules is missing'; exit 0; }
allowed=$2
sources=$4
files=$5
# shellcheck disable=SC2086 # $3, $sources and $files are word lists
for p in $( { sshd_ports; printf '%s\n' $3 ${1:+"${1##* }"}; } | sort -u); do
	for s in $sources; do
		allowed="$allowed\nallow $p/tcp from $s in"
	done
done
# shellcheck disable=SC2086
grep -h '^### tuple ### ' $files 2>/dev/null | awk '{print $4" "$6"/"$5" from "$9" "$10}' | sort -u |
	while read -r r; do
		if printf '%b\n' "$allowed" | grep -qxF -- "$r"; then echo "allowed: $r"; else echo "unexpected: $r"; fi
	done
