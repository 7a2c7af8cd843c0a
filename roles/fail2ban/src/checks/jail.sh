# shellcheck shell=sh
# fail2ban.sshd-jail, fail2ban.sshd-policy and fail2ban.ignores-controller: one command, so the
# probe runs it once for the three checks, and one fail2ban-client session (`-i` reads commands
# on stdin and puts its prompt before each answer's first line): one Python start instead of
# five (~70 ms of host CPU each). Prints the jail's status, the line
# "maxretry N findtime S bantime S", the ignore list and whether the controller (the first word
# of $1, SSH_CONNECTION) is in it.
a=$(printf 'status sshd\nget sshd maxretry\nget sshd findtime\nget sshd bantime\nget sshd ignoreip\nexit\n' |
  fail2ban-client -i 2>&1)
printf '%s\n' "$a" | awk '
  /^fail2ban>/ { n++; sub(/^fail2ban> ?/, "") }
  n == 1 { print }
  n == 2 { m = $0 } n == 3 { f = $0 } n == 4 { b = $0 }
  END { printf "maxretry %s findtime %s bantime %s\n", m, f, b }'
l=$(printf '%s\n' "$a" | awk '/^fail2ban>/ { n++; sub(/^fail2ban> ?/, "") } n == 5')
printf '%s\n' "$l"
c=${1%% *}
if [ -z "$c" ]; then echo 'the controller address is unknown (no SSH_CONNECTION)'
elif printf '%s\n' "$l" | grep -qwF -- "$c"; then echo "controller $c is never banned"
else echo "controller $c is NOT in ignoreip"; fi
