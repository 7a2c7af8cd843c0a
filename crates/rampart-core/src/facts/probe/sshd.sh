# shellcheck shell=sh
# sshd's effective configuration (facts::probe), or @cached when the fingerprint of its inputs
# is the remembered one. $1: the section's marker line, $2: "1" when an answer is remembered,
# $3: its fingerprint.
printf '%s\n' "$1"
if [ -d /run/sshd ]; then
  # shellcheck disable=SC2154 # rampart_fp_sshd is stats.sh's
  if [ -n "$2" ] && [ "$rampart_fp_sshd" = "$3" ]; then echo @cached
  else echo "@fp $rampart_fp_sshd"; sshd -T 2>&1; echo "@rc $?"; fi
else echo '@rc 255'; echo 'Missing privilege separation directory: /run/sshd'; fi
