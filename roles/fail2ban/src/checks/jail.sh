# shellcheck shell=sh
# fail2ban.sshd-jail, fail2ban.sshd-policy and fail2ban.ignores-controller: one command, so the
# probe runs it once for the three checks. The five questions go to the server in one session:
# first through its socket with perl alone ($2: checks/jail_client.pl; ~5 ms of host CPU,
# where `python3 -S` with the standard library cost ~35 ms), else (another socket path, any
# error) through one `fail2ban-client -i` session (~95 ms: its package's imports), whose
# prompt comes before each answer's first line; both print the same. Prints the jail's status, the
# line "maxretry N findtime S bantime S", the ignore list and whether the controller (the
# first word of $1, SSH_CONNECTION) is in it.
a=$(perl -e "$2" /var/run/fail2ban/fail2ban.sock 2>/dev/null) ||
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
